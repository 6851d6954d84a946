//! DIMSE over dicom-ul: the SCP for C-ECHO, C-STORE, C-FIND, C-MOVE and C-GET, and the
//! SCU that performs C-MOVE sub-operations. Every operation goes to the service layer
//! with a [`Principal`] for the calling AE title's hospital.

pub mod message;
mod scu;

use std::collections::HashMap;
use std::sync::Arc;

use dicom_dictionary_std::{tags, uids};
use dicom_object::InMemDicomObject;
use dicom_ul::association::server::{AccessControl, Negotiation};
use dicom_ul::association::{AsyncServerAssociation, ServerAssociationOptions};
use dicom_ul::pdu::{
    AssociationRJServiceUserReason, PDataValue, PDataValueType, Pdu, RequestorRoles, UserIdentity,
};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::config::ServeConfig;
use crate::index::query::Level;
use crate::service::auth::Role;
use crate::service::ingest::{Expect, IngestError, StagedWriter, Stored};
use crate::service::query::{Include, QuerySpec};
use crate::service::{Archive, Principal, Protocol};
use message::*;

/// Our receive PDU size: large PDUs mean fewer round trips for big instances.
const OUR_MAX_PDU: u32 = 131_072;
/// Largest C-FIND/C-MOVE/C-GET identifier we accept.
const MAX_IDENTIFIER: usize = 1 << 20;
/// How long, after an A-ASSOCIATE-RJ, we wait for the requestor to close the connection
/// before closing it ourselves (the ARTIM timer of PS3.8 9.2, state Sta13).
const ARTIM: std::time::Duration = std::time::Duration::from_secs(2);

struct RegisteredAes {
    known: HashMap<String, i64>,
    open_hospital: Option<i64>,
}

impl AccessControl for RegisteredAes {
    fn check_access(
        &self,
        this_ae: &str,
        calling: &str,
        called: &str,
        _id: Option<&UserIdentity>,
    ) -> Result<(), AssociationRJServiceUserReason> {
        if called.trim() != this_ae.trim() {
            return Err(AssociationRJServiceUserReason::CalledAETitleNotRecognized);
        }
        if self.known.contains_key(calling.trim()) || self.open_hospital.is_some() {
            Ok(())
        } else {
            Err(AssociationRJServiceUserReason::CallingAETitleNotRecognized)
        }
    }
}

/// Accept SCP role for C-GET's storage sub-operations.
struct Roles;

impl Negotiation for Roles {
    fn negotiate_roles(
        &self,
        _sop_class_uid: &str,
        scu_role: bool,
        scp_role: bool,
    ) -> Option<RequestorRoles> {
        Some(RequestorRoles {
            scu: scu_role,
            scp: scp_role,
        })
    }
}

pub async fn serve(
    listener: tokio::net::TcpListener,
    archive: Archive,
    cfg: ServeConfig,
    shutdown: CancellationToken,
) {
    serve_on(listener, archive, cfg, shutdown, None).await
}

/// Like [`serve`], but every association is DICOM over TLS: each new connection takes
/// the TLS configuration `tls` gives at that moment (certificate reload).
pub async fn serve_tls(
    listener: tokio::net::TcpListener,
    archive: Archive,
    cfg: ServeConfig,
    shutdown: CancellationToken,
    tls: crate::ops::tls::TlsSource,
) {
    serve_on(listener, archive, cfg, shutdown, Some(tls)).await
}

async fn serve_on(
    listener: tokio::net::TcpListener,
    archive: Archive,
    cfg: ServeConfig,
    shutdown: CancellationToken,
    tls: Option<crate::ops::tls::TlsSource>,
) {
    use std::sync::atomic::Ordering::Relaxed;
    use tracing::Instrument;
    let limit = Arc::new(Semaphore::new(cfg.max_associations));
    let cfg = Arc::new(cfg);
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.cancelled() => break,
        };
        let (mut socket, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(error = %e, "DICOM accept failed");
                continue;
            }
        };
        let _ = socket.set_nodelay(true);
        let Ok(permit) = limit.clone().try_acquire_owned() else {
            // A-ASSOCIATE-RJ: transient, service provider (presentation), local limit exceeded.
            tracing::warn!(%peer, "too many associations; rejecting");
            crate::ops::metrics::association("busy");
            if tls.is_none() {
                let _ = socket.write_all(&[0x03, 0, 0, 0, 0, 4, 0, 2, 3, 2]).await;
            }
            tokio::spawn(close_after_reject(socket));
            continue;
        };
        let archive = archive.clone();
        let cfg = cfg.clone();
        let tls_config = tls.as_ref().map(|t| t.dicom_config());
        let span = tracing::info_span!(
            "association",
            remote = %peer,
            calling_ae = tracing::field::Empty,
            tls = tls_config.is_some()
        );
        tasks.spawn(
            async move {
                let m = &crate::ops::metrics::METRICS;
                m.associations_active.fetch_add(1, Relaxed);
                if let Err(e) = association(socket, peer, archive, &cfg, tls_config).await {
                    tracing::info!(error = %e, "association ended with an error");
                }
                m.associations_active.fetch_sub(1, Relaxed);
                drop(permit);
            }
            .instrument(span),
        );
        while tasks.try_join_next().is_some() {}
    }
    // Graceful stop: refuse new connections at once, let in-flight associations finish
    // (the caller bounds the wait with `--shutdown-grace`).
    drop(listener);
    let open = cfg.max_associations - limit.available_permits();
    if open > 0 {
        tracing::info!(
            associations = open,
            "DICOM listener closed; waiting for associations in progress"
        );
    }
    while tasks.join_next().await.is_some() {}
}

async fn association(
    socket: TcpStream,
    peer: std::net::SocketAddr,
    archive: Archive,
    cfg: &ServeConfig,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> anyhow::Result<()> {
    let lookups = async {
        let known: HashMap<String, i64> = archive
            .admin()
            .list_aes()
            .await?
            .into_iter()
            .map(|a| (a.ae_title, a.hospital_id))
            .collect();
        let open_hospital = match &cfg.dicom_open {
            Some(code) => archive.index().hospital_by_code(code).await?.map(|h| h.id),
            None => None,
        };
        Ok::<_, anyhow::Error>((known, open_hospital))
    };
    let (known, open_hospital) = match lookups.await {
        Ok(x) => x,
        Err(e) => {
            // The index cannot say who the caller is (the database is away):
            // A-ASSOCIATE-RJ, rejected-transient, service provider (presentation),
            // temporary congestion — the modality retries later.
            tracing::warn!(%peer, error = %e, "cannot look up AE titles; rejecting (transient)");
            crate::ops::metrics::association("busy");
            let mut socket = socket;
            if tls.is_none() {
                let _ = socket.write_all(&[0x03, 0, 0, 0, 0, 4, 0, 2, 3, 1]).await;
            }
            close_after_reject(socket).await;
            return Ok(());
        }
    };
    let options = ServerAssociationOptions::new()
        .ae_access_control(RegisteredAes {
            known: known.clone(),
            open_hospital,
        })
        .with_negotiation(Roles)
        .ae_title(cfg.ae_title.clone())
        .promiscuous(true)
        .strict(false)
        .max_pdu_length(OUR_MAX_PDU);
    let ctx = SessionContext {
        archive: &archive,
        cfg,
        peer,
        known: &known,
        open_hospital,
    };
    // dicom-ul owns the connection while it negotiates and closes it at once when it
    // refuses; a second handle keeps it open until the requestor has read the refusal.
    let (socket, held) = second_handle(socket)?;
    let refusal = match tls {
        None => match options.establish_async(socket).await {
            Ok(assoc) => {
                drop(held);
                return ctx.run(assoc).await;
            }
            Err(e) => e,
        },
        Some(tls) => match options.tls_config(tls).establish_tls_async(socket).await {
            Ok(assoc) => {
                drop(held);
                return ctx.run(assoc).await;
            }
            Err(e) => e,
        },
    };
    let audited = ctx.refused(refusal).await;
    if let Some(held) = held {
        close_after_reject(held).await;
    }
    audited
}

/// Returns the connection and, where the socket can be duplicated, a second handle on
/// it (the same connection through another file descriptor). Fails only if the runtime
/// cannot take the socket back or register it again, which drops the connection.
fn second_handle(socket: TcpStream) -> std::io::Result<(TcpStream, Option<TcpStream>)> {
    let std_socket = socket.into_std()?;
    let held = std_socket
        .try_clone()
        .ok()
        .and_then(|s| TcpStream::from_std(s).ok());
    Ok((TcpStream::from_std(std_socket)?, held))
}

/// PS3.8 9.2 (action AE-8, state Sta13): after an A-ASSOCIATE-RJ the acceptor waits for
/// the requestor to close the connection, within the ARTIM timeout, instead of closing
/// it at once: a requestor that sees the connection go before it has read the refusal
/// may report an abort rather than the rejection (seen with pynetdicom).
async fn close_after_reject(mut socket: TcpStream) {
    use tokio::io::AsyncReadExt;
    let mut buf = [0u8; 512];
    let _ = tokio::time::timeout(ARTIM, async {
        while let Ok(n) = socket.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
}

/// What an association needs from its accept, whatever its transport.
struct SessionContext<'a> {
    archive: &'a Archive,
    cfg: &'a ServeConfig,
    peer: std::net::SocketAddr,
    known: &'a HashMap<String, i64>,
    open_hospital: Option<i64>,
}

impl SessionContext<'_> {
    async fn refused(&self, e: dicom_ul::association::Error) -> anyhow::Result<()> {
        let peer = self.peer;
        tracing::info!(%peer, error = %e, "association refused");
        crate::ops::metrics::association("rejected");
        let who = Principal {
            actor: "AE:?".into(),
            user_id: None,
            role: Role::Modality,
            hospital_id: None,
            protocol: Protocol::Dimse,
            remote: peer.to_string(),
            share: None,
        };
        self.archive
            .audit(&who, "associate", "", "", &e.to_string(), "denied")
            .await?;
        Ok(())
    }

    async fn run<S: Io>(&self, mut assoc: Assoc<S>) -> anyhow::Result<()> {
        let peer = self.peer;
        crate::ops::metrics::association("accepted");
        let calling = dicom_ul::association::Association::peer_ae_title(&assoc)
            .trim()
            .to_string();
        tracing::Span::current().record("calling_ae", calling.as_str());
        let hospital_id = self.known.get(&calling).copied().or(self.open_hospital);
        let who = Principal {
            actor: format!("AE:{calling}"),
            user_id: None,
            role: Role::Modality,
            hospital_id,
            protocol: Protocol::Dimse,
            remote: peer.to_string(),
            share: None,
        };
        tracing::debug!(%peer, calling, "association established");
        let mut session = Session {
            archive: self.archive,
            who,
            cfg: self.cfg,
            ae_title: self.cfg.ae_title.clone(),
        };
        let r = session.run(&mut assoc).await;
        tracing::info!(ok = r.is_ok(), "association closed");
        r
    }
}

struct Session<'a> {
    archive: &'a Archive,
    who: Principal,
    cfg: &'a ServeConfig,
    ae_title: String,
}

/// What the data PDVs of the current message go into.
enum DataSink {
    None,
    Memory(Vec<u8>),
    Store(StagedWriter),
    /// Too large or otherwise refused: read and drop the rest, then answer with a failure.
    Discard(u16, String),
}

/// An association over plain TCP or TLS (`--dicom-tls`).
type Assoc<S> = AsyncServerAssociation<S>;

/// The transports an association runs over: TCP, or TLS over TCP.
pub trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + Sync + 'static {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + Sync + 'static> Io for T {}

fn pdv_chunk_len<S: Io>(assoc: &Assoc<S>) -> usize {
    let max = assoc.requestor_max_pdu_length();
    if max == 0 {
        64 * 1024
    } else {
        (max as usize).saturating_sub(6).clamp(1024, 1 << 20)
    }
}

async fn send_command<S: Io>(
    assoc: &mut Assoc<S>,
    pc_id: u8,
    cmd: &CommandBuilder,
) -> anyhow::Result<()> {
    crate::ops::metrics::dimse_response(cmd.get_us(COMMAND_FIELD), cmd.get_us(STATUS));
    assoc
        .send(&Pdu::PData {
            data: vec![PDataValue {
                presentation_context_id: pc_id,
                value_type: PDataValueType::Command,
                is_last: true,
                data: cmd.encode(),
            }],
        })
        .await?;
    Ok(())
}

async fn send_data<S: Io>(assoc: &mut Assoc<S>, pc_id: u8, data: &[u8]) -> anyhow::Result<()> {
    let chunk = pdv_chunk_len(assoc);
    if data.is_empty() {
        assoc
            .send(&Pdu::PData {
                data: vec![PDataValue {
                    presentation_context_id: pc_id,
                    value_type: PDataValueType::Data,
                    is_last: true,
                    data: vec![],
                }],
            })
            .await?;
        return Ok(());
    }
    let n = data.len().div_ceil(chunk);
    for (i, part) in data.chunks(chunk).enumerate() {
        assoc
            .send(&Pdu::PData {
                data: vec![PDataValue {
                    presentation_context_id: pc_id,
                    value_type: PDataValueType::Data,
                    is_last: i + 1 == n,
                    data: part.to_vec(),
                }],
            })
            .await?;
    }
    Ok(())
}

impl Session<'_> {
    fn ts_of<S: Io>(&self, assoc: &Assoc<S>, pc_id: u8) -> Option<(String, String)> {
        assoc
            .presentation_contexts()
            .iter()
            .find(|pc| pc.id == pc_id)
            .map(|pc| {
                (
                    pc.abstract_syntax.trim_end_matches('\0').to_string(),
                    pc.transfer_syntax.trim_end_matches('\0').to_string(),
                )
            })
    }

    async fn run<S: Io>(&mut self, assoc: &mut Assoc<S>) -> anyhow::Result<()> {
        let mut cmd_buf: Vec<u8> = Vec::new();
        let mut current: Option<(u8, Command)> = None;
        let mut sink = DataSink::None;
        loop {
            let pdu = match assoc.receive().await {
                Ok(p) => p,
                Err(e) => {
                    if let DataSink::Store(w) = std::mem::replace(&mut sink, DataSink::None) {
                        w.abort().await;
                    }
                    return Err(e.into());
                }
            };
            match pdu {
                Pdu::PData { data } => {
                    for pdv in data {
                        match pdv.value_type {
                            PDataValueType::Command => {
                                cmd_buf.extend_from_slice(&pdv.data);
                                if cmd_buf.len() > 64 * 1024 {
                                    anyhow::bail!("command set too large");
                                }
                                if pdv.is_last {
                                    let cmd = Command::decode(&cmd_buf)?;
                                    cmd_buf.clear();
                                    if cmd.has_data_set() {
                                        sink = self
                                            .open_sink(assoc, pdv.presentation_context_id, &cmd)
                                            .await;
                                        current = Some((pdv.presentation_context_id, cmd));
                                    } else {
                                        self.dispatch(
                                            assoc,
                                            pdv.presentation_context_id,
                                            &cmd,
                                            DataSink::None,
                                        )
                                        .await?;
                                    }
                                }
                            }
                            PDataValueType::Data => {
                                match &mut sink {
                                    DataSink::Memory(buf) => {
                                        buf.extend_from_slice(&pdv.data);
                                        if buf.len() > MAX_IDENTIFIER {
                                            sink = DataSink::Discard(
                                                status::CANNOT_UNDERSTAND,
                                                "identifier too large".into(),
                                            );
                                        }
                                    }
                                    DataSink::Store(w) => {
                                        if let Err(e) = w.write(&pdv.data).await {
                                            sink = DataSink::Discard(
                                                status::REFUSED_OUT_OF_RESOURCES,
                                                e.to_string(),
                                            );
                                        }
                                    }
                                    DataSink::Discard(..) | DataSink::None => {}
                                }
                                if pdv.is_last {
                                    if let Some((pc, cmd)) = current.take() {
                                        let s = std::mem::replace(&mut sink, DataSink::None);
                                        self.dispatch(assoc, pc, &cmd, s).await?;
                                    }
                                }
                            }
                        }
                    }
                }
                Pdu::ReleaseRQ => {
                    assoc.send(&Pdu::ReleaseRP).await?;
                    return Ok(());
                }
                Pdu::AbortRQ { .. } => {
                    if let DataSink::Store(w) = sink {
                        w.abort().await;
                    }
                    return Ok(());
                }
                other => {
                    tracing::info!(pdu = %other.short_description(), "unexpected PDU; aborting");
                    return Ok(());
                }
            }
        }
    }

    async fn open_sink<S: Io>(&self, assoc: &Assoc<S>, pc_id: u8, cmd: &Command) -> DataSink {
        if cmd.command_field() != Some(C_STORE_RQ) {
            return DataSink::Memory(Vec::new());
        }
        let Some((_abstract, ts)) = self.ts_of(assoc, pc_id) else {
            return DataSink::Discard(
                status::CANNOT_UNDERSTAND,
                "unknown presentation context".into(),
            );
        };
        let class = cmd.str(AFFECTED_SOP_CLASS_UID).unwrap_or_default();
        let inst = cmd.str(AFFECTED_SOP_INSTANCE_UID).unwrap_or_default();
        let mut w = match StagedWriter::create(self.archive, self.cfg.max_dimse_dataset_bytes).await
        {
            Ok(w) => w,
            Err(e) => return DataSink::Discard(status::REFUSED_OUT_OF_RESOURCES, e.to_string()),
        };
        // The stored file is a Part 10 file: preamble and file meta, then the data set
        // bytes exactly as received.
        let meta = match part10_header(&ts, &class, &inst, &self.who.actor) {
            Ok(m) => m,
            Err(e) => return DataSink::Discard(status::CANNOT_UNDERSTAND, e),
        };
        if let Err(e) = w.write(&meta).await {
            return DataSink::Discard(status::REFUSED_OUT_OF_RESOURCES, e.to_string());
        }
        DataSink::Store(w)
    }

    async fn dispatch<S: Io>(
        &mut self,
        assoc: &mut Assoc<S>,
        pc: u8,
        cmd: &Command,
        data: DataSink,
    ) -> anyhow::Result<()> {
        match cmd.command_field() {
            Some(C_ECHO_RQ) => {
                let rsp = response(cmd, C_ECHO_RSP, status::SUCCESS, false);
                send_command(assoc, pc, &rsp).await
            }
            Some(C_STORE_RQ) => self.c_store(assoc, pc, cmd, data).await,
            Some(C_FIND_RQ) => self.c_find(assoc, pc, cmd, data).await,
            Some(C_MOVE_RQ) => self.c_move(assoc, pc, cmd, data).await,
            Some(C_GET_RQ) => self.c_get(assoc, pc, cmd, data).await,
            Some(C_CANCEL_RQ) => Ok(()),
            other => {
                tracing::info!(field = ?other, "unsupported DIMSE command");
                let rsp = response(
                    cmd,
                    other.unwrap_or(0) | 0x8000,
                    status::UNRECOGNIZED_OPERATION,
                    false,
                );
                send_command(assoc, pc, &rsp).await
            }
        }
    }

    async fn c_store<S: Io>(
        &mut self,
        assoc: &mut Assoc<S>,
        pc: u8,
        cmd: &Command,
        data: DataSink,
    ) -> anyhow::Result<()> {
        let inst = cmd.str(AFFECTED_SOP_INSTANCE_UID).unwrap_or_default();
        let rsp =
            |st: u16| response(cmd, C_STORE_RSP, st, false).uid(AFFECTED_SOP_INSTANCE_UID, &inst);
        let (st, comment) = match data {
            DataSink::Store(w) => match w.finish().await {
                Ok(staged) => {
                    let expect = Expect {
                        study_uid: None,
                        sop_class_uid: cmd.str(AFFECTED_SOP_CLASS_UID),
                        sop_instance_uid: Some(inst.clone()),
                    };
                    match self.archive.ingest(&self.who, staged, &expect).await {
                        Ok(o) if o.stored == Stored::Conflict => (
                            status::WARNING_COERCION,
                            Some("SOP Instance UID exists with other content; first kept, this one kept aside".to_string()),
                        ),
                        Ok(_) => (status::SUCCESS, None),
                        Err(IngestError::Invalid(w)) => (status::CANNOT_UNDERSTAND, Some(w)),
                        Err(IngestError::Mismatch { why, .. }) => (status::DATA_SET_MISMATCH, Some(why)),
                        Err(IngestError::NotAllowed(w)) => (status::NOT_AUTHORIZED, Some(w)),
                        Err(IngestError::Service(e)) => {
                            tracing::error!(error = %e, "C-STORE ingest failed");
                            (status::REFUSED_OUT_OF_RESOURCES, Some("processing failure".into()))
                        }
                    }
                }
                Err(e) => (status::REFUSED_OUT_OF_RESOURCES, Some(e.to_string())),
            },
            DataSink::Discard(st, why) => (st, Some(why)),
            _ => (status::CANNOT_UNDERSTAND, Some("no data set".into())),
        };
        let mut r = rsp(st);
        if let Some(c) = comment {
            r = r.text(ERROR_COMMENT, &c);
        }
        send_command(assoc, pc, &r).await
    }

    fn identifier<S: Io>(
        &self,
        assoc: &Assoc<S>,
        pc: u8,
        data: DataSink,
    ) -> Result<InMemDicomObject, (u16, String)> {
        let bytes = match data {
            DataSink::Memory(b) => b,
            DataSink::Discard(st, why) => return Err((st, why)),
            _ => return Err((status::CANNOT_UNDERSTAND, "no identifier".into())),
        };
        let (_, ts_uid) = self.ts_of(assoc, pc).ok_or((
            status::CANNOT_UNDERSTAND,
            "unknown presentation context".to_string(),
        ))?;
        use dicom_encoding::transfer_syntax::TransferSyntaxIndex;
        let ts = dicom_transfer_syntax_registry::TransferSyntaxRegistry
            .get(&ts_uid)
            .ok_or((
                status::CANNOT_UNDERSTAND,
                format!("unknown transfer syntax {ts_uid}"),
            ))?;
        InMemDicomObject::read_dataset_with_ts(std::io::Cursor::new(bytes), ts).map_err(|e| {
            (
                status::CANNOT_UNDERSTAND,
                format!("cannot parse identifier: {e}"),
            )
        })
    }

    fn spec_from(&self, obj: &InMemDicomObject) -> Result<QuerySpec, (u16, String)> {
        let cs_values: Vec<String> = obj
            .element_opt(tags::SPECIFIC_CHARACTER_SET)
            .ok()
            .flatten()
            .and_then(|e| e.to_multi_str().ok().map(|v| v.to_vec()))
            .unwrap_or_default();
        let cs = crate::dicom::charset::CharsetContext::new(&cs_values);
        let level = match crate::dicom::get_str(obj, &cs, tags::QUERY_RETRIEVE_LEVEL)
            .to_ascii_uppercase()
            .as_str()
        {
            "PATIENT" => Level::Patient,
            "STUDY" => Level::Study,
            "SERIES" => Level::Series,
            "IMAGE" | "INSTANCE" => Level::Instance,
            other => {
                return Err((
                    status::IDENTIFIER_MISMATCH,
                    format!("unknown Query/Retrieve Level {other:?}"),
                ));
            }
        };
        let mut keys = Vec::new();
        for e in obj {
            let tag = dicom_core::header::Header::tag(e);
            if tag == tags::QUERY_RETRIEVE_LEVEL
                || tag == tags::SPECIFIC_CHARACTER_SET
                || tag.group() == 0x0002
            {
                continue;
            }
            if let dicom_core::value::Value::Primitive(p) = e.value() {
                let v = crate::dicom::json::text_values(p, e.vr(), &cs).join("\\");
                keys.push((tag, v));
            } else {
                keys.push((tag, String::new()));
            }
        }
        Ok(QuerySpec {
            level,
            keys,
            include: Include::Defaults,
            fuzzy: false,
            limit: None,
            offset: 0,
        })
    }

    async fn c_find<S: Io>(
        &mut self,
        assoc: &mut Assoc<S>,
        pc: u8,
        cmd: &Command,
        data: DataSink,
    ) -> anyhow::Result<()> {
        let fail =
            |st: u16, why: &str| response(cmd, C_FIND_RSP, st, false).text(ERROR_COMMENT, why);
        let obj = match self.identifier(assoc, pc, data) {
            Ok(o) => o,
            Err((st, why)) => return send_command(assoc, pc, &fail(st, &why)).await,
        };
        let spec = match self.spec_from(&obj) {
            Ok(s) => s,
            Err((st, why)) => return send_command(assoc, pc, &fail(st, &why)).await,
        };
        let requested: Vec<dicom_core::Tag> = spec.keys.iter().map(|(t, _)| *t).collect();
        let level_name =
            crate::dicom::get_str(&obj, &Default::default(), tags::QUERY_RETRIEVE_LEVEL);
        // Matches are sent as the index reads them: memory stays flat however many match.
        let mut matches = match self.archive.query_stream(&self.who, &spec).await {
            Ok(r) => r,
            Err(e) => {
                tracing::info!(error = %e, "C-FIND failed");
                return send_command(assoc, pc, &fail(status::UNABLE_TO_PROCESS, &e.to_string()))
                    .await;
            }
        };
        let (_, ts_uid) = self.ts_of(assoc, pc).unwrap_or_default();
        while let Some(m) = matches.next().await {
            let m = match m {
                Ok(m) => m,
                Err(e) => {
                    tracing::info!(error = %e, "C-FIND failed while sending matches");
                    return send_command(
                        assoc,
                        pc,
                        &fail(status::UNABLE_TO_PROCESS, &e.to_string()),
                    )
                    .await;
                }
            };
            let ds = find_response_dataset(&m, &requested, &level_name, &self.ae_title);
            let bytes = match write_dataset(&ds, &ts_uid) {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot encode C-FIND response");
                    continue;
                }
            };
            send_command(assoc, pc, &response(cmd, C_FIND_RSP, status::PENDING, true)).await?;
            send_data(assoc, pc, &bytes).await?;
        }
        send_command(
            assoc,
            pc,
            &response(cmd, C_FIND_RSP, status::SUCCESS, false),
        )
        .await
    }

    async fn c_move<S: Io>(
        &mut self,
        assoc: &mut Assoc<S>,
        pc: u8,
        cmd: &Command,
        data: DataSink,
    ) -> anyhow::Result<()> {
        let fail =
            |st: u16, why: &str| response(cmd, C_MOVE_RSP, st, false).text(ERROR_COMMENT, why);
        let dest = cmd.str(MOVE_DESTINATION).unwrap_or_default();
        let obj = match self.identifier(assoc, pc, data) {
            Ok(o) => o,
            Err((st, why)) => return send_command(assoc, pc, &fail(st, &why)).await,
        };
        let spec = match self.spec_from(&obj) {
            Ok(s) => s,
            Err((st, why)) => return send_command(assoc, pc, &fail(st, &why)).await,
        };
        // The destination must be a registered AE of the caller's hospital with an address.
        let dest_ae = match self.archive.index().ae_by_title(&dest).await? {
            Some(a)
                if Some(a.hospital_id) == self.who.hospital_id
                    && a.host.is_some()
                    && a.port.is_some() =>
            {
                a
            }
            _ => {
                self.archive
                    .audit(
                        &self.who,
                        "move",
                        "",
                        "",
                        &format!("unknown destination {dest}"),
                        "denied",
                    )
                    .await?;
                return send_command(
                    assoc,
                    pc,
                    &fail(status::MOVE_DESTINATION_UNKNOWN, "move destination unknown"),
                )
                .await;
            }
        };
        let locs = match self.archive.retrieve_set(&self.who, &spec).await {
            Ok(l) => l,
            Err(e) => {
                return send_command(assoc, pc, &fail(status::UNABLE_TO_PROCESS, &e.to_string()))
                    .await;
            }
        };
        let total = locs.len();
        let mut done = (0u16, 0u16, 0u16); // completed, failed, warning
        if !locs.is_empty() {
            let addr = format!(
                "{}:{}",
                dest_ae.host.clone().unwrap_or_default(),
                dest_ae.port.unwrap_or(0)
            );
            match scu::StoreScu::connect(&self.ae_title, &dest, &addr, &locs).await {
                Ok(mut scu) => {
                    for (i, loc) in locs.iter().enumerate() {
                        match scu
                            .store(self.archive, loc, &self.ae_title, cmd.message_id())
                            .await
                        {
                            Ok(st) if st == status::SUCCESS => done.0 = done.0.saturating_add(1),
                            Ok(st) if (st & 0xF000) == 0xB000 => done.2 = done.2.saturating_add(1),
                            Ok(_) | Err(_) => done.1 = done.1.saturating_add(1),
                        }
                        // Counters are US: a retrieve of more than 65535 instances reports 65535.
                        let remaining = (total - (i + 1)).min(usize::from(u16::MAX)) as u16;
                        if remaining > 0 {
                            let p = response(cmd, C_MOVE_RSP, status::PENDING, false)
                                .us(REMAINING, remaining)
                                .us(COMPLETED, done.0)
                                .us(FAILED, done.1)
                                .us(WARNING, done.2);
                            send_command(assoc, pc, &p).await?;
                        }
                    }
                    scu.release().await;
                }
                Err(e) => {
                    tracing::info!(error = %e, dest, "cannot reach move destination");
                    done.1 = total.min(usize::from(u16::MAX)) as u16;
                }
            }
        }
        let st = if done.1 == 0 && done.2 == 0 {
            status::SUCCESS
        } else if done.0 == 0 && done.2 == 0 {
            status::SUBOPS_FAILED
        } else {
            status::WARNING_SUBOPS
        };
        let fin = response(cmd, C_MOVE_RSP, st, false)
            .us(COMPLETED, done.0)
            .us(FAILED, done.1)
            .us(WARNING, done.2);
        send_command(assoc, pc, &fin).await
    }

    async fn c_get<S: Io>(
        &mut self,
        assoc: &mut Assoc<S>,
        pc: u8,
        cmd: &Command,
        data: DataSink,
    ) -> anyhow::Result<()> {
        let fail =
            |st: u16, why: &str| response(cmd, C_GET_RSP, st, false).text(ERROR_COMMENT, why);
        let obj = match self.identifier(assoc, pc, data) {
            Ok(o) => o,
            Err((st, why)) => return send_command(assoc, pc, &fail(st, &why)).await,
        };
        let spec = match self.spec_from(&obj) {
            Ok(s) => s,
            Err((st, why)) => return send_command(assoc, pc, &fail(st, &why)).await,
        };
        let locs = match self.archive.retrieve_set(&self.who, &spec).await {
            Ok(l) => l,
            Err(e) => {
                return send_command(assoc, pc, &fail(status::UNABLE_TO_PROCESS, &e.to_string()))
                    .await;
            }
        };
        let total = locs.len();
        let mut done = (0u16, 0u16, 0u16);
        let mut msg_id: u16 = 1;
        for (i, loc) in locs.iter().enumerate() {
            // A presentation context for this SOP class, in the stored syntax, or a
            // native one we can re-encode into.
            let pcs = assoc.presentation_contexts().to_vec();
            let chosen = scu::choose_context(&pcs, &loc.sop_class_uid, &loc.transfer_syntax);
            let ok = match chosen {
                Some((sub_pc, ts)) => {
                    match scu::dataset_bytes(self.archive, loc, &ts).await {
                        Ok(bytes) => {
                            let rq = CommandBuilder::new(C_STORE_RQ)
                                .us(MESSAGE_ID, msg_id)
                                .us(PRIORITY, 0)
                                .us(COMMAND_DATA_SET_TYPE, 0)
                                .uid(AFFECTED_SOP_CLASS_UID, &loc.sop_class_uid)
                                .uid(AFFECTED_SOP_INSTANCE_UID, &loc.sop_uid);
                            msg_id = msg_id.wrapping_add(1);
                            send_command(assoc, sub_pc, &rq).await?;
                            send_data(assoc, sub_pc, &bytes).await?;
                            // Wait for the C-STORE-RSP on this association.
                            wait_store_rsp(assoc).await?
                        }
                        Err(_) => None,
                    }
                }
                None => None,
            };
            match ok {
                Some(st) if st == status::SUCCESS => done.0 = done.0.saturating_add(1),
                Some(st) if (st & 0xF000) == 0xB000 => done.2 = done.2.saturating_add(1),
                _ => done.1 = done.1.saturating_add(1),
            }
            // Counters are US: a retrieve of more than 65535 instances reports 65535.
            let remaining = (total - (i + 1)).min(usize::from(u16::MAX)) as u16;
            if remaining > 0 {
                let p = response(cmd, C_GET_RSP, status::PENDING, false)
                    .us(REMAINING, remaining)
                    .us(COMPLETED, done.0)
                    .us(FAILED, done.1)
                    .us(WARNING, done.2);
                send_command(assoc, pc, &p).await?;
            }
        }
        let st = if done.1 == 0 && done.2 == 0 {
            status::SUCCESS
        } else if done.0 == 0 && done.2 == 0 {
            status::SUBOPS_FAILED
        } else {
            status::WARNING_SUBOPS
        };
        let fin = response(cmd, C_GET_RSP, st, false)
            .us(COMPLETED, done.0)
            .us(FAILED, done.1)
            .us(WARNING, done.2);
        send_command(assoc, pc, &fin).await
    }
}

/// Reads PDUs until a C-STORE-RSP arrives; returns its status.
async fn wait_store_rsp<S: Io>(assoc: &mut Assoc<S>) -> anyhow::Result<Option<u16>> {
    let mut buf = Vec::new();
    loop {
        match assoc.receive().await? {
            Pdu::PData { data } => {
                for pdv in data {
                    if pdv.value_type == PDataValueType::Command {
                        buf.extend_from_slice(&pdv.data);
                        if pdv.is_last {
                            let c = Command::decode(&buf)?;
                            buf.clear();
                            if c.command_field() == Some(C_STORE_RSP) {
                                return Ok(c.u16(STATUS));
                            }
                        }
                    }
                }
            }
            Pdu::AbortRQ { .. } => anyhow::bail!("peer aborted during C-GET"),
            _ => {}
        }
    }
}

/// Preamble + file meta group for a data set received over DIMSE.
fn part10_header(ts: &str, class: &str, inst: &str, source_ae: &str) -> Result<Vec<u8>, String> {
    if !crate::dicom::valid_uid(class) || !crate::dicom::valid_uid(inst) {
        return Err("C-STORE command lacks a valid Affected SOP Class/Instance UID".into());
    }
    let meta = dicom_object::FileMetaTableBuilder::new()
        .transfer_syntax(ts)
        .media_storage_sop_class_uid(class)
        .media_storage_sop_instance_uid(inst)
        .implementation_class_uid(IMPLEMENTATION_CLASS_UID)
        .implementation_version_name("RANGSI_0_1")
        .source_application_entity_title(source_ae.trim_start_matches("AE:"))
        .build()
        .map_err(|e| e.to_string())?;
    let mut out = vec![0u8; 128];
    out.extend_from_slice(b"DICM");
    meta.write(&mut out).map_err(|e| e.to_string())?;
    Ok(out)
}

pub const IMPLEMENTATION_CLASS_UID: &str = "1.2.826.0.1.3680043.10.1166.1";

fn write_dataset(obj: &InMemDicomObject, ts_uid: &str) -> Result<Vec<u8>, String> {
    use dicom_encoding::transfer_syntax::TransferSyntaxIndex;
    let ts = dicom_transfer_syntax_registry::TransferSyntaxRegistry
        .get(ts_uid)
        .ok_or_else(|| format!("unknown transfer syntax {ts_uid}"))?;
    let mut out = Vec::new();
    obj.write_dataset_with_ts(&mut out, ts)
        .map_err(|e| e.to_string())?;
    Ok(out)
}

/// The C-FIND response identifier: the requested keys with values from the match.
fn find_response_dataset(
    m: &serde_json::Map<String, serde_json::Value>,
    requested: &[dicom_core::Tag],
    level: &str,
    ae: &str,
) -> InMemDicomObject {
    use dicom_core::{DataElement, PrimitiveValue, VR};
    let mut obj = InMemDicomObject::new_empty();
    obj.put(DataElement::new(
        tags::SPECIFIC_CHARACTER_SET,
        VR::CS,
        PrimitiveValue::from("ISO_IR 192"),
    ));
    obj.put(DataElement::new(
        tags::QUERY_RETRIEVE_LEVEL,
        VR::CS,
        PrimitiveValue::from(level),
    ));
    obj.put(DataElement::new(
        tags::RETRIEVE_AE_TITLE,
        VR::AE,
        PrimitiveValue::from(ae),
    ));
    for &tag in requested {
        let vr = crate::service::query::vr_of(tag);
        if vr == VR::SQ {
            obj.put(DataElement::new(
                tag,
                VR::SQ,
                dicom_core::value::DataSetSequence::<InMemDicomObject>::empty(),
            ));
            continue;
        }
        let key = crate::dicom::json::tag_key(tag);
        let values: Vec<String> = m
            .get(&key)
            .and_then(|e| e.get("Value"))
            .and_then(|v| v.as_array())
            .map(|arr| {
                arr.iter()
                    .map(|v| match v {
                        serde_json::Value::String(s) => s.clone(),
                        serde_json::Value::Number(n) => n.to_string(),
                        serde_json::Value::Object(pn) => ["Alphabetic", "Ideographic", "Phonetic"]
                            .iter()
                            .map(|k| pn.get(*k).and_then(|x| x.as_str()).unwrap_or(""))
                            .collect::<Vec<_>>()
                            .join("=")
                            .trim_end_matches('=')
                            .to_string(),
                        _ => String::new(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let value = match vr {
            VR::US => values
                .first()
                .and_then(|v| v.parse::<u16>().ok())
                .map(PrimitiveValue::from)
                .unwrap_or(PrimitiveValue::Empty),
            VR::UL => values
                .first()
                .and_then(|v| v.parse::<u32>().ok())
                .map(PrimitiveValue::from)
                .unwrap_or(PrimitiveValue::Empty),
            _ if values.is_empty() => PrimitiveValue::Empty,
            _ => PrimitiveValue::Strs(values.into_iter().collect()),
        };
        obj.put(DataElement::new(
            tag,
            if vr == VR::UN { VR::LO } else { vr },
            value,
        ));
    }
    obj
}

/// Abstract syntaxes we accept are whatever the peer proposes (promiscuous), but these
/// are the verification and query/retrieve classes we implement.
#[allow(dead_code)]
pub const QUERY_RETRIEVE: &[&str] = &[
    uids::VERIFICATION,
    uids::PATIENT_ROOT_QUERY_RETRIEVE_INFORMATION_MODEL_FIND,
    uids::STUDY_ROOT_QUERY_RETRIEVE_INFORMATION_MODEL_FIND,
    uids::PATIENT_ROOT_QUERY_RETRIEVE_INFORMATION_MODEL_MOVE,
    uids::STUDY_ROOT_QUERY_RETRIEVE_INFORMATION_MODEL_MOVE,
    uids::PATIENT_ROOT_QUERY_RETRIEVE_INFORMATION_MODEL_GET,
    uids::STUDY_ROOT_QUERY_RETRIEVE_INFORMATION_MODEL_GET,
];
