//! Fuzz [`rangsi_pixels::decode_frame`] (and what a caller does next with a
//! frame: re-encode it natively, render it) with an arbitrary transfer syntax,
//! a bounded arbitrary description and arbitrary frame bytes (input format in
//! `src/lib.rs`). An `Err` is the expected answer to garbage; a panic, a hang,
//! or an allocation past libFuzzer's limit is a bug. A decoded frame must
//! agree with the description it was decoded for.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rangsi_pixels::{decode_frame, render_8bit};

fuzz_target!(|data: &[u8]| {
    let Some((ts, desc, bytes)) = rangsi_pixels_fuzz::parse(data) else {
        return;
    };
    let Ok(frame) = decode_frame(ts, &desc, bytes) else {
        return;
    };
    assert_eq!((frame.rows, frame.columns), (desc.rows, desc.columns));
    assert_eq!(frame.samples_per_pixel, desc.samples_per_pixel);
    assert_eq!(frame.samples.len(), desc.samples_per_frame());
    let native = frame.to_native_le_bytes(&desc);
    assert!(native.len() <= desc.samples_per_frame() * 8);
    if let Ok(image) = render_8bit(&frame, &desc, None) {
        let expected =
            usize::from(desc.rows) * usize::from(desc.columns) * usize::from(image.channels);
        assert_eq!(image.pixels.len(), expected);
    }
});
