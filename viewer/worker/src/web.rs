//! Browser side of the worker: `onmessage` → fetch → decode → `postMessage`.
//! A PALETTE COLOR instance's lookup table is fetched once (bulk data) and kept.

use std::cell::RefCell;
use std::collections::HashMap;

use js_sys::{Array, Object, Reflect};
use rangsi_pixels::PaletteLut;
use rangsi_viewer_worker::{EXPLICIT_VR_LE, Texels, decode, multipart, palette, palette_bulk_urls};
use rangsi_wire::decode::{DecodeFailure, DecodeRequest, DecodedFrame, PaletteSource};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent, Request, RequestInit, Response};

/// What the viewer asks for: every stored syntax, so the worker decodes (not the server).
const ACCEPT: &str = "multipart/related; type=\"application/octet-stream\"; transfer-syntax=*";

pub fn start() {
    let scope: DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    let on_message = Closure::<dyn Fn(MessageEvent)>::new(|event: MessageEvent| {
        let Some(text) = event.data().as_string() else {
            return;
        };
        wasm_bindgen_futures::spawn_local(async move {
            match serde_json::from_str::<DecodeRequest>(&text) {
                Ok(req) => {
                    let id = req.id;
                    if let Err(error) = handle(req).await {
                        post_failure(DecodeFailure { id, error });
                    }
                }
                Err(e) => post_failure(DecodeFailure {
                    id: u32::MAX,
                    error: format!("bad request: {e}"),
                }),
            }
        });
    });
    scope.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    on_message.forget();
    let ready = Object::new();
    let _ = Reflect::set(&ready, &"ready".into(), &JsValue::TRUE);
    // Which of the two builds runs (`cargo xtask` adds a +simd128 one; its loader picks).
    let build = if cfg!(target_feature = "simd128") {
        "simd128"
    } else {
        "baseline"
    };
    let _ = Reflect::set(&ready, &"build".into(), &build.into());
    let _ = scope.post_message(&ready);
}

fn scope() -> DedicatedWorkerGlobalScope {
    js_sys::global().unchecked_into()
}

fn js_err(e: JsValue) -> String {
    e.as_string()
        .or_else(|| {
            Reflect::get(&e, &"message".into())
                .ok()
                .and_then(|m| m.as_string())
        })
        .unwrap_or_else(|| format!("{e:?}"))
}

/// Palettes already built, by their metadata description (a series shares one).
const PALETTES_KEPT: usize = 8;

thread_local! {
    static PALETTES: RefCell<Vec<(PaletteSource, PaletteLut)>> = const { RefCell::new(Vec::new()) };
}

/// The palette of `source`, fetching its bulk data channels the first time.
async fn palette_for(source: &PaletteSource) -> Result<PaletteLut, String> {
    if let Some(lut) = PALETTES.with(|p| {
        p.borrow()
            .iter()
            .find(|(s, _)| s == source)
            .map(|(_, l)| l.clone())
    }) {
        return Ok(lut);
    }
    let mut fetched = HashMap::new();
    for url in palette_bulk_urls(source) {
        let (content_type, body) = fetch(url, BULK_ACCEPT).await?;
        let parts = multipart::parts(&content_type, &body)?;
        let part = parts.first().ok_or("the bulk data answer is empty")?;
        fetched.insert(url.to_owned(), part.body.to_vec());
    }
    let lut = palette(source, |url| fetched.get(url).cloned())?;
    PALETTES.with(|p| {
        let mut p = p.borrow_mut();
        if p.len() >= PALETTES_KEPT {
            p.remove(0);
        }
        p.push((source.clone(), lut.clone()));
    });
    Ok(lut)
}

const BULK_ACCEPT: &str = "multipart/related; type=\"application/octet-stream\"";

/// GETs `url` with `accept`: (Content-Type, body).
async fn fetch(url: &str, accept: &str) -> Result<(String, Vec<u8>), String> {
    let init = RequestInit::new();
    init.set_method("GET");
    let request = Request::new_with_str_and_init(url, &init).map_err(js_err)?;
    let headers = request.headers();
    headers.set("Accept", accept).map_err(js_err)?;
    // The server then answers a 401 without a Basic challenge (no browser login dialog).
    headers
        .set("X-Requested-With", "rangsi-viewer")
        .map_err(js_err)?;
    let response: Response = JsFuture::from(scope().fetch_with_request(&request))
        .await
        .map_err(js_err)?
        .unchecked_into();
    if !response.ok() {
        return Err(format!("{url} answered {}", response.status()));
    }
    let content_type = response
        .headers()
        .get("Content-Type")
        .map_err(js_err)?
        .unwrap_or_default();
    let buffer = JsFuture::from(response.array_buffer().map_err(js_err)?)
        .await
        .map_err(js_err)?;
    Ok((content_type, js_sys::Uint8Array::new(&buffer).to_vec()))
}

async fn handle(req: DecodeRequest) -> Result<(), String> {
    let (content_type, body) = fetch(&req.url, ACCEPT).await?;
    let lut = match &req.pixel.palette {
        Some(source) if req.pixel.photometric == "PALETTE COLOR" => {
            Some(palette_for(source).await?)
        }
        _ => None,
    };
    let started = now_ms();
    let parts = multipart::parts(&content_type, &body)?;
    let part = parts.first().ok_or("the answer holds no frame")?;
    let transfer_syntax = part
        .transfer_syntax()
        .or_else(|| req.pixel.transfer_syntax.clone())
        .unwrap_or_else(|| EXPLICIT_VR_LE.to_owned());
    let texels = decode(&req.pixel, &transfer_syntax, part.body, lut)?;
    let (min, max) = texels.min_max();
    let header = DecodedFrame {
        id: req.id,
        kind: texels.kind(),
        columns: req.pixel.columns,
        rows: req.pixel.rows,
        transfer_syntax,
        min,
        max,
        decode_ms: now_ms() - started,
    };
    let samples: js_sys::ArrayBuffer = match &texels {
        Texels::I16(v) => js_sys::Int16Array::from(v.as_slice()).buffer(),
        Texels::U16(v) => js_sys::Uint16Array::from(v.as_slice()).buffer(),
        Texels::F32(v) => js_sys::Float32Array::from(v.as_slice()).buffer(),
        Texels::Rgba8(v) => js_sys::Uint8Array::from(v.as_slice()).buffer(),
    };
    let message = Object::new();
    let header = serde_json::to_string(&header).map_err(|e| e.to_string())?;
    Reflect::set(&message, &"frame".into(), &header.into()).map_err(js_err)?;
    Reflect::set(&message, &"samples".into(), &samples).map_err(js_err)?;
    // Transfer, not copy, the samples to the UI thread.
    scope()
        .post_message_with_transfer(&message, &Array::of1(&samples))
        .map_err(js_err)
}

fn post_failure(failure: DecodeFailure) {
    let message = Object::new();
    let text = serde_json::to_string(&failure).unwrap_or_default();
    let _ = Reflect::set(&message, &"failure".into(), &text.into());
    let _ = scope().post_message(&message);
}

fn now_ms() -> f64 {
    scope().performance().map(|p| p.now()).unwrap_or(0.0)
}
