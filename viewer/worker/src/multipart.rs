//! `multipart/related` as WADO-RS sends frames (PS3.18 8.7.3.5): parts separated by
//! `--boundary`, each with headers (a `Content-Type` that may carry a
//! `transfer-syntax` parameter) and the frame's bytes.

/// One part of a multipart body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part<'a> {
    pub content_type: Option<String>,
    pub body: &'a [u8],
}

impl Part<'_> {
    /// The `transfer-syntax` parameter of the part's Content-Type, if any.
    pub fn transfer_syntax(&self) -> Option<String> {
        param(self.content_type.as_deref()?, "transfer-syntax")
    }
}

/// A parameter of a MIME type (`type/sub; name=value; name="value"`), case-insensitive name.
pub fn param(content_type: &str, name: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().trim_matches('"').to_owned())
    })
}

/// Splits a multipart body given the response's Content-Type (which names the boundary).
pub fn parts<'a>(content_type: &str, body: &'a [u8]) -> Result<Vec<Part<'a>>, String> {
    let boundary = param(content_type, "boundary")
        .filter(|b| !b.is_empty())
        .ok_or_else(|| format!("not a multipart answer: {content_type}"))?;
    let delimiter = format!("--{boundary}");
    let delimiter = delimiter.as_bytes();
    let mut out = Vec::new();
    let mut pos = find(body, delimiter, 0).ok_or("multipart body without a boundary")?;
    loop {
        pos += delimiter.len();
        if body[pos..].starts_with(b"--") {
            return Ok(out);
        }
        // Skip the CRLF that ends the boundary line.
        pos = skip_line_end(body, pos);
        let headers_end =
            find(body, b"\r\n\r\n", pos).ok_or("multipart part without a header end")?;
        let headers = String::from_utf8_lossy(&body[pos..headers_end]);
        let content_type = headers.split("\r\n").find_map(|line| {
            let (k, v) = line.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case("content-type")
                .then(|| v.trim().to_owned())
        });
        let start = headers_end + 4;
        let next = find(body, delimiter, start).ok_or("multipart body ends inside a part")?;
        // The CRLF before the delimiter belongs to the delimiter, not to the data.
        let end = if next >= start + 2 && &body[next - 2..next] == b"\r\n" {
            next - 2
        } else {
            next
        };
        out.push(Part {
            content_type,
            body: &body[start..end],
        });
        pos = next;
    }
}

fn skip_line_end(body: &[u8], mut pos: usize) -> usize {
    while pos < body.len() && (body[pos] == b' ' || body[pos] == b'\t') {
        pos += 1;
    }
    if body[pos..].starts_with(b"\r\n") {
        pos + 2
    } else if body[pos..].starts_with(b"\n") {
        pos + 1
    } else {
        pos
    }
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if from > haystack.len() {
        return None;
    }
    haystack[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CT: &str = "multipart/related; type=\"application/octet-stream\"; boundary=b0und4ry";

    #[test]
    fn splits_parts_with_binary_bodies_and_transfer_syntax() {
        let mut body = Vec::new();
        body.extend_from_slice(b"--b0und4ry\r\nContent-Type: application/octet-stream; transfer-syntax=1.2.840.10008.1.2.5\r\n\r\n");
        body.extend_from_slice(&[0, 1, b'\r', b'\n', b'-', b'-', 255]);
        body.extend_from_slice(b"\r\n--b0und4ry\r\nContent-Type: application/octet-stream\r\n\r\n");
        body.extend_from_slice(&[9, 8]);
        body.extend_from_slice(b"\r\n--b0und4ry--\r\n");
        let p = parts(CT, &body).expect("well-formed body");
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].body, &[0, 1, b'\r', b'\n', b'-', b'-', 255]);
        assert_eq!(
            p[0].transfer_syntax().as_deref(),
            Some("1.2.840.10008.1.2.5")
        );
        assert_eq!(p[1].body, &[9, 8]);
        assert_eq!(p[1].transfer_syntax(), None);
    }

    #[test]
    fn quoted_parameters_and_bad_bodies() {
        assert_eq!(
            param("multipart/related; Boundary=\"x y\"", "boundary").as_deref(),
            Some("x y")
        );
        assert!(parts("application/octet-stream", b"abc").is_err());
        assert!(parts(CT, b"--b0und4ry\r\nContent-Type: a\r\n\r\nno end").is_err());
        assert!(parts(CT, b"nothing").is_err());
    }
}
