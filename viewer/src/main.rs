//! Entry point: mounts the app (the app itself lives in the library's `web` module).

#[cfg(target_arch = "wasm32")]
fn main() {
    rangsi_viewer::web::mount();
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("rangsi-viewer runs in the browser: build it with trunk (cargo xtask run)");
}
