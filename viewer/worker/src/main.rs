//! The decode Web Worker (wasm32): answers the viewer's `DecodeRequest`s by fetching
//! the frame from WADO-RS `/frames` in its stored transfer syntax, decoding it with
//! `rangsi-pixels`, and posting back the samples as a transferred ArrayBuffer with a
//! `DecodedFrame` header. Posts `{ready: true, build}` once it can take requests
//! (`build`: `simd128` or `baseline`, which of its two builds runs).

#[cfg(target_arch = "wasm32")]
mod web;

#[cfg(target_arch = "wasm32")]
fn main() {
    web::start();
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("decode-worker runs in the browser (built by trunk for wasm32)");
}
