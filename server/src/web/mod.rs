//! HTTP: DICOMweb under `/dicomweb`, the JSON API under `/api`, health, and the
//! viewer's embedded assets at `/` (`viewer.rs`). Also starts the DIMSE listener:
//! `serve` is the one entry point that runs both protocols over one [`Archive`].

pub mod admin;
pub mod api;
pub mod auth;
pub mod dicomweb;
pub mod error;
pub mod gateways;
pub mod image;
pub mod measurements;
pub mod rendered;
pub mod reports;
pub mod sharing;
pub mod stow;
pub mod studies;
pub mod target;
pub mod text;
pub mod viewer;

use std::io::Write;
use std::net::SocketAddr;

use anyhow::Context;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{NotForContentType, Predicate, SizeAbove};

use crate::config::ServeConfig;
use crate::service::Archive;

#[derive(Clone)]
pub struct AppState {
    pub archive: Archive,
    pub max_body_bytes: u64,
    pub tls: bool,
    /// Origins allowed to call the API from a browser (e.g. an OHIF served elsewhere).
    pub cors_origins: Vec<String>,
    /// Default lifetime of a share link, in days.
    pub share_expiry_days: u32,
    /// The public origin for share links' QR codes (else the request's Host).
    pub public_url: Option<String>,
    /// TrueType font with Thai for referral letters.
    pub letter_font: std::path::PathBuf,
}

pub fn router(state: AppState) -> Router {
    use dicomweb as d;
    use rendered as r;
    let dicomweb = Router::new()
        // STOW-RS bodies may come gzip/deflate/zstd/br-compressed (hospital gateways);
        // the handler's size limit counts the decompressed bytes.
        .route(
            "/studies",
            get(d::qido_studies).merge(post(stow::store).layer(decompress())),
        )
        .route("/series", get(d::qido_series))
        .route("/instances", get(d::qido_instances))
        .route("/wado", get(d::wado_uri))
        .route(
            "/studies/{study}",
            get(d::wado).merge(post(stow::store_study).layer(decompress())),
        )
        .route("/studies/{study}/metadata", get(d::metadata))
        .route("/studies/{study}/rendered", get(r::rendered_many))
        .route("/studies/{study}/thumbnail", get(r::thumbnail))
        .route("/studies/{study}/series", get(d::qido_study_series))
        .route("/studies/{study}/instances", get(d::qido_study_instances))
        .route("/studies/{study}/series/{series}", get(d::wado))
        .route(
            "/studies/{study}/series/{series}/metadata",
            get(d::metadata),
        )
        .route(
            "/studies/{study}/series/{series}/rendered",
            get(r::rendered_many),
        )
        .route(
            "/studies/{study}/series/{series}/thumbnail",
            get(r::thumbnail),
        )
        .route(
            "/studies/{study}/series/{series}/instances",
            get(d::qido_series_instances),
        )
        .route(
            "/studies/{study}/series/{series}/instances/{instance}",
            get(d::wado),
        )
        .route(
            "/studies/{study}/series/{series}/instances/{instance}/metadata",
            get(d::metadata),
        )
        .route(
            "/studies/{study}/series/{series}/instances/{instance}/rendered",
            get(r::rendered_one),
        )
        .route(
            "/studies/{study}/series/{series}/instances/{instance}/thumbnail",
            get(r::thumbnail),
        )
        .route(
            "/studies/{study}/series/{series}/instances/{instance}/frames/{frames}",
            get(d::frames),
        )
        .route(
            "/studies/{study}/series/{series}/instances/{instance}/frames/{frames}/rendered",
            get(r::rendered_one),
        )
        .route(
            "/studies/{study}/series/{series}/instances/{instance}/bulk/{tag}",
            get(d::bulk),
        );
    let api = Router::new()
        .route("/login", post(api::login))
        .route("/logout", post(api::logout))
        .route("/me", get(api::me))
        .merge(measurements::routes())
        .merge(reports::routes())
        .merge(studies::routes())
        .merge(sharing::routes())
        .merge(gateways::routes())
        .merge(admin::routes());
    // Compress JSON and uncompressed pixel payloads; never already-compressed images.
    let compress =
        SizeAbove::new(1024)
            .and(NotForContentType::IMAGES)
            .and(NotForContentType::const_new(
                "multipart/related; type=\"image/",
            ));
    let cors = {
        use tower_http::cors::{AllowOrigin, CorsLayer};
        let origins: Vec<axum::http::HeaderValue> = state
            .cors_origins
            .iter()
            .filter_map(|o| o.parse().ok())
            .collect();
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([axum::http::Method::GET, axum::http::Method::POST])
            .allow_headers([
                axum::http::header::AUTHORIZATION,
                axum::http::header::ACCEPT,
                axum::http::header::CONTENT_TYPE,
                axum::http::header::RANGE,
                axum::http::header::IF_NONE_MATCH,
            ])
            .expose_headers([
                axum::http::header::ETAG,
                axum::http::header::CONTENT_RANGE,
                axum::http::header::WARNING,
            ])
    };
    Router::new()
        .nest("/dicomweb", dicomweb)
        .nest(
            "/api",
            api.layer(axum::middleware::from_fn(text::refuse_nul_in_json)),
        )
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/readyz",
            get(
                |axum::extract::State(s): axum::extract::State<AppState>| async move {
                    crate::ops::readyz(&s.archive).await
                },
            ),
        )
        .merge(viewer::routes())
        .layer(axum::middleware::from_fn(viewer::no_basic_prompt))
        .layer(axum::middleware::from_fn(text::refuse_nul_in_url))
        .layer(DefaultBodyLimit::disable())
        .layer(CompressionLayer::new().compress_when(compress))
        .layer(cors)
        .layer(axum::middleware::from_fn(crate::ops::observe))
        .with_state(state)
}

/// Request decompression for STOW-RS (`Content-Encoding`); an unknown coding is a 415.
fn decompress() -> tower_http::decompression::RequestDecompressionLayer {
    tower_http::decompression::RequestDecompressionLayer::new()
}

/// Runs the archive until SIGINT/SIGTERM.
pub async fn serve(cfg: ServeConfig) -> anyhow::Result<()> {
    let archive = Archive::open_with(&cfg.data, &cfg.stores).await?;
    anyhow::ensure!(
        cfg.tier_after_days.is_none() || archive.tiers().has_cold(),
        "--tier-after-days needs a cold store (--cold-blobs)"
    );
    // Cold studies opened again come back to hot in the background.
    archive.promote_on_read();
    let cleaned = archive.clean_staging()?;
    if cleaned > 0 {
        tracing::info!(
            cleaned,
            "removed unfinished staging files from an earlier run"
        );
    }
    crate::cli::bootstrap(&archive, true).await?;
    let resumed = archive.resume_deliveries().await?;
    if resumed > 0 {
        tracing::info!(resumed, "webhook deliveries left pending by an earlier run");
    }
    let tls = match (&cfg.ops.tls_cert, &cfg.ops.tls_key) {
        (Some(cert), Some(key)) => Some(crate::ops::tls::TlsSource::new(
            cert,
            key,
            cfg.ops.dicom_tls_ca.as_deref(),
        )?),
        _ => None,
    };
    let http = tokio::net::TcpListener::bind(cfg.http)
        .await
        .with_context(|| format!("binding HTTP on {}", cfg.http))?;
    let dicom = tokio::net::TcpListener::bind(cfg.dicom)
        .await
        .with_context(|| format!("binding DICOM on {}", cfg.dicom))?;
    let http_addr = http.local_addr()?;
    let dicom_addr = dicom.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    println!("rangsi: http listening on {scheme}://{http_addr}");
    println!(
        "rangsi: dicom listening on {dicom_addr} as AE {}",
        cfg.ae_title
    );
    tracing::info!(
        "index on {}; {}",
        match archive.index().dialect() {
            crate::index::Dialect::Sqlite => "SQLite",
            crate::index::Dialect::Postgres => "PostgreSQL",
        },
        archive.tiers().describe()
    );
    tracing::info!(
        "node {} (background jobs run under leases in the index)",
        archive.node_id()
    );

    let shutdown = tokio_util::sync::CancellationToken::new();
    let mut tasks = Vec::new();
    if let (Some(addr), Some(tls)) = (cfg.ops.dicom_tls, &tls) {
        let l = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding DICOM TLS on {addr}"))?;
        println!(
            "rangsi: dicom-tls listening on {} as AE {}",
            l.local_addr()?,
            cfg.ae_title
        );
        tasks.push(tokio::spawn(crate::dimse::serve_tls(
            l,
            archive.clone(),
            cfg.clone(),
            shutdown.clone(),
            tls.clone(),
        )));
    }
    if let Some(addr) = cfg.ops.metrics {
        let l = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding metrics on {addr}"))?;
        println!(
            "rangsi: metrics listening on http://{}/metrics",
            l.local_addr()?
        );
        tasks.push(tokio::spawn(crate::ops::serve_metrics(
            l,
            archive.clone(),
            shutdown.clone(),
        )));
    }
    if let Some(tls) = &tls {
        tokio::spawn(tls.clone().watch(shutdown.clone()));
    }
    std::io::stdout().flush()?;
    tasks.push(tokio::spawn(crate::dimse::serve(
        dicom,
        archive.clone(),
        cfg.clone(),
        shutdown.clone(),
    )));
    if let Some(days) = cfg.tier_after_days {
        tasks.push(tokio::spawn(
            archive.clone().tier_periodically(days, shutdown.clone()),
        ));
    }
    tasks.push(tokio::spawn(
        archive.clone().sweep_deliveries(shutdown.clone()),
    ));
    let archive_for_flush = archive.clone();
    let state = AppState {
        archive,
        max_body_bytes: cfg.max_body_bytes,
        tls: tls.is_some(),
        cors_origins: cfg.cors_origins.clone(),
        share_expiry_days: cfg.share_expiry_days,
        public_url: cfg.public_url.clone(),
        letter_font: cfg.letter_font.clone(),
    };
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    let sd = shutdown.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down: finishing in-flight requests and associations");
        crate::ops::mark_shutting_down();
        sd.cancel();
    });
    // Shutdown order: the signal closes every listener (new connections refused), then
    // in-flight HTTP requests and DIMSE associations finish — for at most the grace
    // period — then the audit queue is flushed.
    let sd = shutdown.clone();
    let stopped = async move { sd.cancelled().await };
    let tls_shutdown = shutdown.clone();
    let everything = async move {
        let http = match tls {
            None => axum::serve(http, app).with_graceful_shutdown(stopped).await,
            Some(tls) => {
                use axum::serve::ListenerExt;
                let l = crate::ops::tls::TlsListener::new(http, &tls, tls_shutdown)?.tap_io(|_| {});
                axum::serve(l, app).with_graceful_shutdown(stopped).await
            }
        };
        for t in tasks {
            let _ = t.await;
        }
        http
    };
    tokio::pin!(everything);
    let grace = std::time::Duration::from_secs(cfg.ops.shutdown_grace_secs());
    let r = tokio::select! {
        r = &mut everything => r,
        _ = shutdown.cancelled() => match tokio::time::timeout(grace, &mut everything).await {
            Ok(r) => r,
            Err(_) => {
                tracing::warn!(grace_secs = grace.as_secs(), "shutdown grace period over; closing what is still open");
                Ok(())
            }
        },
    };
    archive_for_flush.flush_audit().await;
    tracing::info!("stopped");
    r?;
    Ok(())
}

/// Resolves on SIGINT or SIGTERM (`serve`, `gateway`).
pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
