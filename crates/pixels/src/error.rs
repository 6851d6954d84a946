//! The one error type of this crate: every way a description or a frame can
//! be unusable, with enough context for the server to log the real cause.

/// Why a description could not be read or a frame could not be decoded or rendered.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PixelError {
    /// The transfer syntax is unknown or has no decoder here.
    #[error("transfer syntax {name} ({ts_uid}) cannot be decoded")]
    UnsupportedTransferSyntax {
        /// The UID as given (trimmed).
        ts_uid: String,
        /// A human-readable name, or "unknown transfer syntax".
        name: String,
    },
    /// A required attribute of the Image Pixel module is absent.
    #[error("required attribute {keyword} is missing")]
    MissingAttribute {
        /// DICOM keyword, e.g. "Rows".
        keyword: &'static str,
    },
    /// An attribute is present but its value is unusable.
    #[error("attribute {keyword} has an invalid value: {value}")]
    InvalidAttribute {
        /// DICOM keyword.
        keyword: &'static str,
        /// The offending value, as text.
        value: String,
    },
    /// The combination of attributes is valid DICOM but not handled here
    /// (for example 24 bits allocated).
    #[error("unsupported image layout: {reason}")]
    UnsupportedLayout {
        /// What is not supported.
        reason: String,
    },
    /// A native frame is shorter than its description requires.
    #[error("frame is {actual} bytes, the description needs {expected}")]
    FrameTooShort {
        /// Bytes needed.
        expected: usize,
        /// Bytes given.
        actual: usize,
    },
    /// The frame would exceed the decoder's size limit.
    #[error("frame of {samples} samples exceeds the limit of {limit}")]
    FrameTooLarge {
        /// Samples the description asks for.
        samples: u64,
        /// The limit.
        limit: u64,
    },
    /// The compressed stream is corrupt or uses a feature the codec lacks.
    #[error("{codec} decoding failed: {message}")]
    Codec {
        /// Which codec, e.g. "RLE Lossless".
        codec: &'static str,
        /// What went wrong.
        message: String,
    },
    /// The codestream decoded, but disagrees with the data set's description.
    #[error(
        "{codec} stream does not match the description: {what} is {found}, expected {expected}"
    )]
    Mismatch {
        /// Which codec.
        codec: &'static str,
        /// Which property, e.g. "columns".
        what: &'static str,
        /// Value from the description.
        expected: String,
        /// Value found in the stream.
        found: String,
    },
    /// The frame's samples do not fit the description (a caller mixing
    /// frames and descriptions of different images).
    #[error("frame does not match the description: {reason}")]
    FrameMismatch {
        /// What differs.
        reason: String,
    },
}
