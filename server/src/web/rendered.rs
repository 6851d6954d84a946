//! WADO-RS rendered resources and thumbnails (PS3.18 8.3.5, 9.5, 9.6): the
//! HTTP side — query parameters, media type negotiation, single images and the
//! multipart answer of a study or series. Rendering itself is
//! `Archive::rendered` (the instance's own greyscale pipeline).

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::StreamExt;
use rangsi_pixels::VoiFunction;

use super::AppState;
use super::auth::Authed;
use super::dicomweb::percent_decode;
use super::error::{AppError, AppResult};
use super::target::Target;
use crate::service::retrieve::{ImageFormat, RenderParams, RenderWindow, SourceRegion, Viewport};

/// Largest viewport side accepted, in pixels.
const MAX_VIEWPORT: u32 = 8192;
/// Viewport of a thumbnail when the request gives none.
const THUMBNAIL_VIEWPORT: u32 = 128;

/// The rendering parameters of a request and its `accept` query parameter.
pub struct RenderRequest {
    pub params: RenderParams,
    pub accept: Option<String>,
}

/// Parses `window`, `viewport`, `quality` and `accept`; other parameters
/// (`annotation`, `charset`, `iccprofile`) are ignored, as PS3.18 allows.
pub fn render_request(raw: Option<&str>) -> AppResult<RenderRequest> {
    let mut p = RenderParams::default();
    let mut accept = None;
    for pair in raw.unwrap_or("").split('&').filter(|x| !x.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let v = percent_decode(v)?;
        match k {
            "window" => p.window = Some(parse_window(&v)?),
            "viewport" => p.viewport = Some(parse_viewport(&v)?),
            "quality" => {
                p.quality = match v.trim().parse::<u8>() {
                    Ok(q @ 1..=100) => Some(q),
                    _ => return Err(AppError::bad_request("quality must be 1..100")),
                }
            }
            "accept" => accept = Some(v),
            _ => {}
        }
    }
    Ok(RenderRequest { params: p, accept })
}

/// `center,width[,function]`, function `linear` (the default), `linear-exact`
/// or `sigmoid`.
fn parse_window(v: &str) -> AppResult<RenderWindow> {
    let bad = || {
        AppError::bad_request(format!(
            "window must be center,width[,linear|linear-exact|sigmoid] with width above 0: {v:?}"
        ))
    };
    let f: Vec<&str> = v.split(',').map(str::trim).collect();
    let num = |i: usize| {
        f.get(i)
            .and_then(|x| x.parse::<f64>().ok())
            .filter(|x| x.is_finite())
    };
    let (Some(center), Some(width)) = (num(0), num(1)) else {
        return Err(bad());
    };
    let function = match f.get(2).map(|s| s.to_ascii_lowercase()).as_deref() {
        None | Some("linear") => VoiFunction::Linear,
        Some("linear-exact" | "linear_exact") => VoiFunction::LinearExact,
        Some("sigmoid") => VoiFunction::Sigmoid,
        Some(_) => return Err(bad()),
    };
    if width <= 0.0 || f.len() > 3 {
        return Err(bad());
    }
    Ok(RenderWindow {
        center,
        width,
        function,
    })
}

/// `vw,vh[,sx,sy,sw,sh]`; each of the source region's values may be empty
/// (the top-left corner, the rest of the image).
fn parse_viewport(v: &str) -> AppResult<Viewport> {
    let bad = || {
        AppError::bad_request(format!(
            "viewport must be vw,vh[,sx,sy,sw,sh] (vw, vh 1..{MAX_VIEWPORT}; sx, sy from 0; sw, sh not 0): {v:?}"
        ))
    };
    let f: Vec<&str> = v.split(',').map(str::trim).collect();
    if f.len() != 2 && f.len() != 6 {
        return Err(bad());
    }
    let size = |s: &str| {
        s.parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_VIEWPORT).contains(n))
    };
    let (Some(width), Some(height)) = (size(f[0]), size(f[1])) else {
        return Err(bad());
    };
    let region = if f.len() == 6 {
        let opt = |s: &str| -> AppResult<Option<i64>> {
            if s.is_empty() {
                Ok(None)
            } else {
                s.parse::<i64>().map(Some).map_err(|_| bad())
            }
        };
        let corner = |s: &str| -> AppResult<u32> {
            opt(s)?.map_or(Ok(0), |n| u32::try_from(n).map_err(|_| bad()))
        };
        let (w, h) = (opt(f[4])?, opt(f[5])?);
        if w == Some(0) || h == Some(0) {
            return Err(bad());
        }
        Some(SourceRegion {
            x: corner(f[2])?,
            y: corner(f[3])?,
            width: w,
            height: h,
        })
    } else {
        None
    };
    Ok(Viewport {
        width,
        height,
        region,
    })
}

/// The rendered media type to answer: the `accept` query parameter, else the
/// Accept header, in the client's order of preference (q-values); `image/*`,
/// `*/*` and no Accept at all give JPEG. Within `multipart/related` the `type`
/// parameter names the media type. `None`: nothing acceptable is offered.
pub fn negotiate(query_accept: Option<&str>, headers: &HeaderMap) -> Option<ImageFormat> {
    let accept = query_accept
        .or_else(|| headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()))
        .unwrap_or("")
        .to_ascii_lowercase();
    if accept.trim().is_empty() {
        return Some(ImageFormat::Jpeg);
    }
    let mut ranges: Vec<(f32, usize, String)> = Vec::new();
    for (i, range) in accept.split(',').enumerate() {
        let mut parts = range.split(';').map(str::trim);
        let mut media = parts.next().unwrap_or("").to_string();
        let mut q = 1.0f32;
        for param in parts {
            let (k, v) = param.split_once('=').unwrap_or((param, ""));
            let v = v.trim().trim_matches('"');
            match k.trim() {
                "q" => q = v.parse().unwrap_or(0.0),
                "type" if media == "multipart/related" => media = v.to_string(),
                _ => {}
            }
        }
        if q > 0.0 {
            ranges.push((q, i, media));
        }
    }
    ranges.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    ranges
        .iter()
        .find_map(|(_, _, media)| match media.as_str() {
            "image/jpeg" | "image/*" | "*/*" => Some(ImageFormat::Jpeg),
            "image/png" => Some(ImageFormat::Png),
            "image/gif" => Some(ImageFormat::Gif),
            _ => None,
        })
}

fn not_acceptable(query_accept: Option<&str>, headers: &HeaderMap) -> AppError {
    let asked = query_accept
        .or_else(|| headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()))
        .unwrap_or("");
    AppError::new(
        StatusCode::NOT_ACCEPTABLE,
        format!(
            "rendered media types offered: image/jpeg, image/png, image/gif (asked for {asked:?})"
        ),
    )
}

/// The request's parameters and media type, or 400 / 406.
fn prepare(q: Option<&str>, headers: &HeaderMap) -> AppResult<(RenderParams, ImageFormat)> {
    let req = render_request(q)?;
    let format = negotiate(req.accept.as_deref(), headers)
        .ok_or_else(|| not_acceptable(req.accept.as_deref(), headers))?;
    Ok((req.params, format))
}

pub fn image_response(bytes: Bytes, format: ImageFormat) -> Response {
    (
        [
            (header::CONTENT_TYPE, format.media_type()),
            (header::CACHE_CONTROL, "private, max-age=3600"),
        ],
        bytes,
    )
        .into_response()
}

/// Every instance of a study or series with pixel data, each its first frame
/// rendered, as one `multipart/related` answer streamed part by part.
pub async fn rendered_many(
    State(s): State<AppState>,
    Authed(who): Authed,
    Target { study, series, .. }: Target,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> AppResult<Response> {
    let (params, format) = prepare(q.as_deref(), &headers)?;
    let locs: Vec<_> = s
        .archive
        .locate(&who, Some(&study), series.as_deref(), None)
        .await?
        .into_iter()
        .filter(|l| {
            l.pixel_layout.is_some()
                || l.transfer_syntax == crate::dicom::deflated::DEFLATED_EXPLICIT_VR_LE
        })
        .collect();
    if locs.is_empty() {
        return Err(AppError::new(
            StatusCode::NOT_FOUND,
            "no instance with pixel data to render",
        ));
    }
    // The first image is rendered before answering, so its errors get a status.
    let first = s.archive.render_loc(&locs[0], 1, &params, format).await?;
    let boundary = super::dicomweb::new_boundary();
    let mt = format.media_type();
    let part = move |bytes: Bytes, b: &str| {
        let mut out = format!(
            "--{b}\r\nContent-Type: {mt}\r\nContent-Length: {}\r\n\r\n",
            bytes.len()
        )
        .into_bytes();
        out.extend_from_slice(&bytes);
        out.extend_from_slice(b"\r\n");
        Bytes::from(out)
    };
    let head = part(first, &boundary);
    let archive = s.archive.clone();
    let b = boundary.clone();
    let rest = futures::stream::unfold(
        (locs.into_iter().skip(1), archive, params, b, false),
        move |(mut it, archive, params, b, done)| async move {
            if done {
                return None;
            }
            match it.next() {
                Some(loc) => match archive.render_loc(&loc, 1, &params, format).await {
                    Ok(img) => Some((Ok(part(img, &b)), (it, archive, params, b, false))),
                    Err(e) => {
                        tracing::warn!(error = %e, sop = %loc.sop_uid, "rendering a part failed");
                        Some((
                            Err(std::io::Error::other(e.to_string())),
                            (it, archive, params, b, true),
                        ))
                    }
                },
                None => {
                    let end = Bytes::from(format!("--{b}--\r\n"));
                    Some((Ok(end), (it, archive, params, b, true)))
                }
            }
        },
    );
    let body = futures::stream::once(async move { Ok::<_, std::io::Error>(head) }).chain(rest);
    let ct = format!("multipart/related; type=\"{mt}\"; boundary={boundary}");
    Ok(([(header::CONTENT_TYPE, ct)], Body::from_stream(body)).into_response())
}

/// One image: an instance's first frame (PS3.18: a multi-frame instance's
/// `/rendered` is here its first frame), or the first frame of `/frames/{list}/rendered`.
pub async fn rendered_one(
    State(s): State<AppState>,
    Authed(who): Authed,
    target: Target,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> AppResult<Response> {
    let frame = match &target.frames {
        Some(list) => super::dicomweb::parse_frame_list(list)?[0],
        None => 1,
    };
    let (Some(series), Some(instance)) = (&target.series, &target.instance) else {
        return Err(AppError::bad_request("the path names no instance"));
    };
    let (params, fmt) = prepare(q.as_deref(), &headers)?;
    Ok(image_response(
        s.archive
            .rendered(&who, &target.study, series, instance, frame, &params, fmt)
            .await?,
        fmt,
    ))
}

/// The thumbnail of a study, a series or an instance.
pub async fn thumbnail(
    State(s): State<AppState>,
    Authed(who): Authed,
    Target {
        study,
        series,
        instance,
        ..
    }: Target,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> AppResult<Response> {
    let (mut params, fmt) = prepare(q.as_deref(), &headers)?;
    let locs = s
        .archive
        .locate(&who, Some(&study), series.as_deref(), instance.as_deref())
        .await?;
    // The middle image of the (first) series with pixel data is the most representative.
    let with_pixels: Vec<_> = locs
        .iter()
        .filter(|l| {
            l.pixel_layout.is_some()
                || l.transfer_syntax == crate::dicom::deflated::DEFLATED_EXPLICIT_VR_LE
        })
        .collect();
    let Some(first) = with_pixels.first() else {
        return Err(AppError::new(
            StatusCode::NOT_FOUND,
            "no instance with pixel data for a thumbnail",
        ));
    };
    let in_series: Vec<_> = with_pixels
        .iter()
        .filter(|l| l.series_uid == first.series_uid)
        .collect();
    let loc = in_series[in_series.len() / 2];
    params.viewport = params.viewport.or(Some(Viewport {
        width: THUMBNAIL_VIEWPORT,
        height: THUMBNAIL_VIEWPORT,
        region: None,
    }));
    let img = s.archive.render_loc(loc, 1, &params, fmt).await?;
    Ok(image_response(img, fmt))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(v: &str) -> Option<ImageFormat> {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, v.parse().expect("header"));
        negotiate(None, &h)
    }

    #[test]
    fn media_type_negotiation() {
        assert_eq!(negotiate(None, &HeaderMap::new()), Some(ImageFormat::Jpeg));
        assert_eq!(accept("image/png"), Some(ImageFormat::Png));
        assert_eq!(accept("image/gif"), Some(ImageFormat::Gif));
        assert_eq!(
            accept("image/webp, image/png;q=0.5"),
            Some(ImageFormat::Png)
        );
        assert_eq!(
            accept("image/jpeg;q=0.4, image/png"),
            Some(ImageFormat::Png)
        );
        assert_eq!(accept("image/png, image/jpeg"), Some(ImageFormat::Png));
        assert_eq!(accept("*/*"), Some(ImageFormat::Jpeg));
        assert_eq!(
            accept("multipart/related; type=\"image/png\""),
            Some(ImageFormat::Png)
        );
        assert_eq!(accept("image/webp"), None);
        assert_eq!(accept("image/png;q=0"), None);
        assert_eq!(
            negotiate(Some("image/gif"), &HeaderMap::new()),
            Some(ImageFormat::Gif)
        );
    }

    #[test]
    fn window_and_viewport_parameters() {
        let w = parse_window("40,400,sigmoid").expect("window");
        assert_eq!(
            (w.center, w.width, w.function),
            (40.0, 400.0, VoiFunction::Sigmoid)
        );
        assert_eq!(
            parse_window("-600,1500").expect("window").function,
            VoiFunction::Linear
        );
        assert_eq!(
            parse_window("1,0.5,LINEAR-EXACT").expect("window").function,
            VoiFunction::LinearExact
        );
        assert!(parse_window("40,0").is_err());
        assert!(parse_window("40,400,gamma").is_err());
        let v = parse_viewport("256,128").expect("viewport");
        assert_eq!((v.width, v.height, v.region), (256, 128, None));
        let v = parse_viewport("64,64,10,20,-30,").expect("viewport");
        assert_eq!(
            v.region,
            Some(SourceRegion {
                x: 10,
                y: 20,
                width: Some(-30),
                height: None
            })
        );
        assert!(parse_viewport("64").is_err());
        assert!(parse_viewport("0,64").is_err());
        assert!(parse_viewport("64,64,-1,0,10,10").is_err());
        assert!(parse_viewport("64,64,0,0,0,10").is_err());
    }
}
