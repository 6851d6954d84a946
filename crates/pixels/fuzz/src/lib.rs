//! The input format of the `decode_frame` fuzz target, shared with the seed
//! writer (`examples/seeds.rs`): a 13-byte header that picks a transfer
//! syntax and a bounded [`ImageDescription`], then the frame's bytes.
//!
//! | byte  | field                                                     |
//! |-------|-----------------------------------------------------------|
//! | 0     | transfer syntax, index into [`SYNTAXES`] (mod its length)  |
//! | 1–2   | Rows − 1, little endian, mod [`MAX_SIDE`]                  |
//! | 3–4   | Columns − 1, likewise                                      |
//! | 5     | Samples per Pixel, index into [`SAMPLES_PER_PIXEL`]        |
//! | 6     | Bits Allocated, index into [`BITS_ALLOCATED`]              |
//! | 7, 8  | Bits Stored, High Bit (as is)                              |
//! | 9     | Pixel Representation (mod 3: 2 is invalid)                 |
//! | 10    | Planar Configuration (mod 3)                               |
//! | 11    | Photometric Interpretation, index into [`PHOTOMETRIC`]     |
//! | 12    | bit 0: float pixels; bit 1: a window; bit 2: a palette     |
//!
//! Every index wraps, so every input means something. Sides are bounded so a
//! description alone cannot ask for more than `MAX_SIDE² × 3` samples: what
//! the decoders allocate beyond that is their doing, and libFuzzer's malloc
//! limit reports it.

use rangsi_pixels::{ImageDescription, PaletteLut, VoiWindow};

/// Header length in bytes.
pub const HEADER: usize = 13;
/// Largest Rows and Columns a fuzz input can describe.
pub const MAX_SIDE: u16 = 1024;

/// Transfer syntaxes tried: every decodable one and a few that are not.
pub const SYNTAXES: &[&str] = &[
    "1.2.840.10008.1.2",
    "1.2.840.10008.1.2.1",
    "1.2.840.10008.1.2.1.98",
    "1.2.840.10008.1.2.1.99",
    "1.2.840.10008.1.2.2",
    "1.2.840.10008.1.2.5",
    "1.2.840.10008.1.2.4.50",
    "1.2.840.10008.1.2.4.51",
    "1.2.840.10008.1.2.4.57",
    "1.2.840.10008.1.2.4.70",
    "1.2.840.10008.1.2.4.80",
    "1.2.840.10008.1.2.4.81",
    "1.2.840.10008.1.2.4.90",
    "1.2.840.10008.1.2.4.91",
    "1.2.840.10008.1.2.4.201",
    "1.2.840.10008.1.2.4.202",
    "1.2.840.10008.1.2.4.203",
    "1.2.840.10008.1.2.4.100",
    "1.2.3.4",
];
/// Samples per Pixel values (0, 2 and 4 are invalid).
pub const SAMPLES_PER_PIXEL: &[u16] = &[1, 3, 0, 2, 4];
/// Bits Allocated values (0, 12 and 24 are unsupported).
pub const BITS_ALLOCATED: &[u16] = &[8, 16, 1, 32, 64, 12, 24, 0];
/// Photometric Interpretations.
pub const PHOTOMETRIC: &[&str] = &[
    "MONOCHROME2",
    "MONOCHROME1",
    "RGB",
    "YBR_FULL",
    "YBR_FULL_422",
    "YBR_PARTIAL_420",
    "YBR_ICT",
    "YBR_RCT",
    "PALETTE COLOR",
];

fn pick<T: Copy>(table: &[T], byte: u8) -> T {
    table[usize::from(byte) % table.len()]
}

/// Split a fuzz input into transfer syntax, description and frame bytes.
pub fn parse(data: &[u8]) -> Option<(&'static str, ImageDescription, &[u8])> {
    let (h, frame) = data.split_first_chunk::<HEADER>()?;
    let side = |lo: u8, hi: u8| u16::from_le_bytes([lo, hi]) % MAX_SIDE + 1;
    let flags = h[12];
    let desc = ImageDescription {
        rows: side(h[1], h[2]),
        columns: side(h[3], h[4]),
        samples_per_pixel: pick(SAMPLES_PER_PIXEL, h[5]),
        bits_allocated: pick(BITS_ALLOCATED, h[6]),
        bits_stored: u16::from(h[7]),
        high_bit: u16::from(h[8]),
        pixel_representation: u16::from(h[9] % 3),
        planar_configuration: u16::from(h[10] % 3),
        photometric: pick(PHOTOMETRIC, h[11]).to_owned(),
        number_of_frames: 1,
        rescale_slope: 1.0,
        rescale_intercept: 0.0,
        windows: if flags & 2 != 0 {
            vec![VoiWindow {
                center: 40.0,
                width: 400.0,
            }]
        } else {
            vec![]
        },
        window_explanations: vec![],
        float_pixels: flags & 1 != 0,
        palette: (flags & 4 != 0).then(|| PaletteLut {
            first_mapped: 0,
            bits: 16,
            red: (0..256).map(|i| i * 256).collect(),
            green: (0..256).map(|i| 65535 - i * 256).collect(),
            blue: vec![0x8000; 256],
        }),
    };
    Some((pick(SYNTAXES, h[0]), desc, frame))
}

/// The input that [`parse`] turns back into `ts`, `desc` (its image pixel
/// attributes) and `frame`; `None` when they are outside what it can express.
pub fn encode(ts: &str, desc: &ImageDescription, frame: &[u8]) -> Option<Vec<u8>> {
    let index = |found: Option<usize>| found.and_then(|i| u8::try_from(i).ok());
    let side = |v: u16| (1..=MAX_SIDE).contains(&v).then(|| (v - 1).to_le_bytes());
    let (rows, columns) = (side(desc.rows)?, side(desc.columns)?);
    let mut out = vec![
        index(SYNTAXES.iter().position(|s| *s == ts))?,
        rows[0],
        rows[1],
        columns[0],
        columns[1],
        index(
            SAMPLES_PER_PIXEL
                .iter()
                .position(|&s| s == desc.samples_per_pixel),
        )?,
        index(
            BITS_ALLOCATED
                .iter()
                .position(|&b| b == desc.bits_allocated),
        )?,
        u8::try_from(desc.bits_stored).ok()?,
        u8::try_from(desc.high_bit).ok()?,
        u8::try_from(desc.pixel_representation).ok()?,
        u8::try_from(desc.planar_configuration).ok()?,
        index(PHOTOMETRIC.iter().position(|p| *p == desc.photometric))?,
        u8::from(desc.float_pixels) | if desc.windows.is_empty() { 0 } else { 2 },
    ];
    out.extend_from_slice(frame);
    Some(out)
}
