//! The pool of decode Web Workers (`decode-worker`, crate `rangsi-viewer-worker`):
//! each fetches WADO-RS frames and decodes them off the UI thread. Jobs are queued in
//! the order the viewer wants them (the slice on screen first) and re-prioritised as
//! the user scrolls; loading another series drops what is still queued.
//! Each viewport is a client with its own queue, generation and sink; the workers
//! take turns between the clients' queues, so nine viewports load side by side.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use js_sys::Reflect;
use rangsi_wire::decode::{DecodeFailure, DecodeRequest, DecodedFrame, PixelModule};
use wasm_bindgen::prelude::*;
use web_sys::{MessageEvent, Worker};

/// Requests a worker holds at once: enough that the link does not idle while requests
/// wait for their first byte (latency + server time) or the worker decodes (with 2,
/// both requests of a pair finished together and the link stood still while the
/// worker decoded them: `cargo xtask bench viewer`, BENCHMARKS.md).
const IN_FLIGHT_PER_WORKER: usize = 4;

/// A decoded frame as the worker sent it: header and the samples' buffer.
pub struct DecodedSamples {
    pub header: DecodedFrame,
    pub samples: js_sys::ArrayBuffer,
}

/// Receives each finished slice: its index in the stack and the frame or an error.
pub type Sink = Rc<dyn Fn(usize, Result<DecodedSamples, String>)>;

struct Slot {
    worker: Worker,
    ready: bool,
    in_flight: usize,
}

#[derive(Default)]
struct Client {
    /// (slice index, request) not yet sent.
    queue: VecDeque<(usize, DecodeRequest)>,
    generation: u8,
    sink: Option<Sink>,
    /// Requests sent for the current series, and whether one has been answered: the
    /// first slice downloads alone, with the whole link, since the first image waits
    /// for it.
    sent: usize,
    answered: bool,
}

impl Client {
    fn can_send(&self) -> bool {
        !self.queue.is_empty() && (self.answered || self.sent == 0)
    }
}

/// Most clients (viewports) at once: the client number is 7 bits of a request id.
pub const MAX_CLIENTS: usize = 128;

struct Inner {
    slots: Vec<Slot>,
    clients: Vec<Client>,
    /// The client whose queue the next free worker serves first (round robin).
    turn: usize,
}

/// A handle to the page's worker pool.
#[derive(Clone)]
pub struct DecodePool(Rc<RefCell<Inner>>);

thread_local! {
    static POOL: RefCell<Option<DecodePool>> = const { RefCell::new(None) };
}

/// client (7 bits) | generation (8 bits) | slice index (16 bits): an id that fits an
/// f64 exactly in JSON and keeps late answers of an earlier series apart.
fn request_id(client: usize, generation: u8, index: usize) -> u32 {
    ((client as u32 & 0x7F) << 24) | (u32::from(generation) << 16) | (index as u32 & 0xFFFF)
}

/// The decode worker `index.html` started early (`window.__rangsiWorker`), taken once.
fn early_worker() -> Option<Worker> {
    let window = web_sys::window()?;
    let worker = Reflect::get(&window, &"__rangsiWorker".into())
        .ok()?
        .dyn_into::<Worker>()
        .ok()?;
    let _ = Reflect::delete_property(
        window.unchecked_ref::<js_sys::Object>(),
        &"__rangsiWorker".into(),
    );
    Some(worker)
}

/// Notes which build of the decode worker runs (`simd128` or `baseline`) as
/// `data-decode-build` on `<html>`, for support and the e2e tests.
fn show_build(build: &str) {
    if let Some(root) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.document_element())
    {
        let _ = root.set_attribute("data-decode-build", build);
    }
}

impl DecodePool {
    /// The page's pool, started on first use.
    pub fn get() -> Result<DecodePool, String> {
        POOL.with(|p| {
            if let Some(pool) = p.borrow().as_ref() {
                return Ok(pool.clone());
            }
            let pool = DecodePool::start()?;
            *p.borrow_mut() = Some(pool.clone());
            Ok(pool)
        })
    }

    fn start() -> Result<DecodePool, String> {
        let cores = web_sys::window()
            .map(|w| w.navigator().hardware_concurrency())
            .unwrap_or(2.0) as usize;
        let count = cores.saturating_sub(1).clamp(1, 4);
        let pool = DecodePool(Rc::new(RefCell::new(Inner {
            slots: Vec::with_capacity(count),
            clients: Vec::new(),
            turn: 0,
        })));
        let url = match super::prefs::decode_build() {
            Some(build) => format!(
                "{}decode-worker_loader.js?build={build}",
                super::STATIC_PREFIX
            ),
            None => format!("{}decode-worker_loader.js", super::STATIC_PREFIX),
        };
        for n in 0..count {
            // The first worker may already run: index.html starts it on a deep link.
            let early = (n == 0).then(early_worker).flatten();
            let worker = match &early {
                Some(w) => w.clone(),
                None => {
                    Worker::new(&url).map_err(|e| format!("cannot start a decode worker: {e:?}"))?
                }
            };
            let handle = pool.clone();
            let on_message = Closure::<dyn Fn(MessageEvent)>::new(move |e: MessageEvent| {
                handle.on_message(n, e.data());
            });
            worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
            on_message.forget();
            // Its `{ready}` may have come before this handler: the early script noted it.
            let ready = early.as_ref().is_some_and(|w| {
                Reflect::get(w, &"rangsiReady".into()).is_ok_and(|r| r.is_truthy())
            });
            if let Some(build) = early
                .as_ref()
                .and_then(|w| Reflect::get(w, &"rangsiBuild".into()).ok())
                .and_then(|b| b.as_string())
            {
                show_build(&build);
            }
            pool.0.borrow_mut().slots.push(Slot {
                worker,
                ready,
                in_flight: 0,
            });
        }
        Ok(pool)
    }

    /// Starts loading a series for `client` (a viewport, < [`MAX_CLIENTS`]):
    /// `slices[i]` is (frame URL, pixel module) of slice `i`, fetched in `order`.
    /// Anything this client still had queued is dropped and late answers for it are
    /// ignored.
    pub fn load(
        &self,
        client: usize,
        slices: &[(String, PixelModule)],
        order: &[usize],
        sink: Sink,
    ) {
        let client = client % MAX_CLIENTS;
        {
            let mut inner = self.0.borrow_mut();
            if inner.clients.len() <= client {
                inner.clients.resize_with(client + 1, Client::default);
            }
            let c = &mut inner.clients[client];
            c.generation = c.generation.wrapping_add(1);
            let generation = c.generation;
            c.queue = order
                .iter()
                .filter_map(|&i| {
                    let (url, pixel) = slices.get(i)?;
                    Some((
                        i,
                        DecodeRequest {
                            id: request_id(client, generation, i),
                            url: url.clone(),
                            pixel: pixel.clone(),
                        },
                    ))
                })
                .collect();
            c.sink = Some(sink);
            c.sent = 0;
            c.answered = false;
        }
        self.pump();
    }

    /// Moves `client`'s queued slices nearest to `current` to the front.
    pub fn prioritize(&self, client: usize, current: usize) {
        let mut inner = self.0.borrow_mut();
        if let Some(c) = inner.clients.get_mut(client % MAX_CLIENTS) {
            c.queue
                .make_contiguous()
                .sort_by_key(|(i, _)| i.abs_diff(current));
        }
    }

    /// Drops everything `client` has queued (its viewport closed).
    pub fn cancel(&self, client: usize) {
        let mut inner = self.0.borrow_mut();
        if let Some(c) = inner.clients.get_mut(client % MAX_CLIENTS) {
            c.generation = c.generation.wrapping_add(1);
            c.queue.clear();
            c.sink = None;
        }
    }

    fn pump(&self) {
        let mut inner = self.0.borrow_mut();
        let Inner {
            slots,
            clients,
            turn,
        } = &mut *inner;
        if clients.is_empty() {
            return;
        }
        for slot in slots.iter_mut().filter(|s| s.ready) {
            while slot.in_flight < IN_FLIGHT_PER_WORKER {
                // The next client, in turn, that has something queued.
                let n = clients.len();
                let Some(k) = (0..n)
                    .map(|d| (*turn + d) % n)
                    .find(|&k| clients[k].can_send())
                else {
                    return;
                };
                *turn = (k + 1) % n;
                let Some((_, request)) = clients[k].queue.pop_front() else {
                    return;
                };
                let Ok(text) = serde_json::to_string(&request) else {
                    continue;
                };
                if slot.worker.post_message(&text.into()).is_ok() {
                    slot.in_flight += 1;
                    clients[k].sent += 1;
                }
            }
        }
    }

    fn on_message(&self, worker: usize, data: JsValue) {
        let get = |k: &str| {
            Reflect::get(&data, &k.into())
                .ok()
                .filter(|v| !v.is_undefined())
        };
        if get("ready").is_some() {
            if let Some(build) = get("build").and_then(|b| b.as_string()) {
                show_build(&build);
            }
            if let Some(slot) = self.0.borrow_mut().slots.get_mut(worker) {
                slot.ready = true;
            }
            self.pump();
            return;
        }
        let result: Option<(u32, Result<DecodedSamples, String>)> =
            if let Some(header) = get("frame").and_then(|h| h.as_string()) {
                serde_json::from_str::<DecodedFrame>(&header)
                    .ok()
                    .and_then(|header| {
                        let samples = get("samples")?.dyn_into::<js_sys::ArrayBuffer>().ok()?;
                        Some((header.id, Ok(DecodedSamples { header, samples })))
                    })
            } else if let Some(failure) = get("failure").and_then(|f| f.as_string()) {
                serde_json::from_str::<DecodeFailure>(&failure)
                    .ok()
                    .map(|f| (f.id, Err(f.error)))
            } else {
                None
            };
        let sink = {
            let mut inner = self.0.borrow_mut();
            if let Some(slot) = inner.slots.get_mut(worker) {
                slot.in_flight = slot.in_flight.saturating_sub(1);
            }
            match &result {
                Some((id, _)) => {
                    let client = (id >> 24) as usize & 0x7F;
                    let generation = (id >> 16) as u8;
                    inner
                        .clients
                        .get_mut(client)
                        .filter(|c| c.generation == generation)
                        .and_then(|c| {
                            c.answered = true;
                            c.sink.clone()
                        })
                }
                None => None,
            }
        };
        if let (Some(sink), Some((id, result))) = (sink, result) {
            sink((id & 0xFFFF) as usize, result);
        }
        self.pump();
    }
}
