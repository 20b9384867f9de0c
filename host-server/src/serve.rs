//! Starting the server: storage, live outputs, and our own accept loop.
//!
//! warp's own `serve` sets no timer, so hyper would never time out a slow
//! client's headers. This loop serves each connection with hyper's HTTP/1
//! builder, a Tokio timer and a header read timeout (which also closes idle
//! keep-alive connections), and caps open connections with a semaphore and
//! per client address ([`crate::fairness`]): at a cap, a new connection is
//! answered 503 `busy` with `Retry-After` and closed ([`crate::overflow`]).
//! Each connection's bytes pass [`crate::wire_guard`] (ambiguous framing,
//! hyper's own error answers in the JSON shape).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use solarwire_core::upload::Limits;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinHandle;

use crate::alerts::AlertEngine;
use crate::app::AppState;
use crate::config::ServeArgs;
use crate::fairness::{ConnectionSlot, PerAddress, WsLimits};
use crate::http::peer::PeerAddr;
use crate::key_vault::{MasterKey, seal_clear_keys, settle_rotation};
use crate::keys::{FleetKey, KeyRing, parse_aes_key, parse_hmac_key};
use crate::live::{LiveHub, Outputs, fan_out};
use crate::mqtt::MqttPublisher;
use crate::ratelimit::DeviceLimiter;
use crate::store::ingest::{CommitSink, IngestConfig};
use crate::store::sqlite::database_path;
use crate::store::{StoreOptions, open_store, store_url};
use crate::telemetry::Telemetry;
use crate::wire_guard::{FramingFlag, Guarded};

/// Messages a WebSocket client may fall behind by before it is closed.
const WS_BACKLOG: usize = 1024;
/// Committed uploads waiting for the live outputs.
const LIVE_QUEUE: usize = 8192;
/// Boot registrations one address may send at once above its rate (a
/// fleet behind one NAT address boots together).
const REGISTRATION_BURST: u32 = 30;
/// Time in-flight requests get to finish at shutdown.
const GRACE: Duration = Duration::from_secs(10);

/// A running server.
pub struct Running {
    /// The address it listens on (useful with port 0).
    pub addr: SocketAddr,
    /// The `--metrics-listen` address, when there is one.
    pub metrics_addr: Option<SocketAddr>,
    /// The database file.
    pub database: PathBuf,
    /// Whether a fleet key is configured.
    pub fleet_mode: bool,
    shutdown: watch::Sender<bool>,
    accept: JoinHandle<()>,
    background: Vec<JoinHandle<()>>,
}

impl Running {
    /// Stops accepting, lets open requests finish, then stops.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let _ = self.accept.await;
        for task in self.background {
            task.abort();
        }
    }

    /// Runs until `signal` resolves, then shuts down gracefully.
    pub async fn run_until(self, signal: impl Future<Output = ()>) {
        signal.await;
        tracing::info!("shutting down");
        self.shutdown().await;
    }
}

/// The per-client limiter: `per_second` requests a second, a second's worth as burst.
/// The envelope v2 skew window: `skew` either way.
fn skew_window(skew: Duration) -> solarwire_core::envelope_v2::SkewWindow {
    let ms = u64::try_from(skew.as_millis()).unwrap_or(u64::MAX);
    solarwire_core::envelope_v2::SkewWindow {
        past_ms: ms,
        future_ms: ms,
    }
}

fn client_limiter(per_second: f64) -> Option<DeviceLimiter> {
    let burst = u32::try_from(per_second.ceil() as i64).unwrap_or(u32::MAX);
    DeviceLimiter::new(per_second, burst)
}

fn fleet_keys(args: &ServeArgs) -> Result<Option<FleetKey>, String> {
    let Some(psk) = &args.compat_psk else {
        if args.compat_aes_key.is_some() {
            return Err("--compat-aes-key needs --compat-psk".into());
        }
        return Ok(None);
    };
    let hmac = parse_hmac_key(psk).map_err(|e| format!("--compat-psk: {e}"))?;
    let aes = args
        .compat_aes_key
        .as_deref()
        .map(parse_aes_key)
        .transpose()
        .map_err(|e| format!("--compat-aes-key: {e}"))?;
    Ok(Some(FleetKey::new(&hmac, aes)))
}

/// Opens the store, starts the live outputs and begins accepting connections.
///
/// # Errors
/// A message for people: bad settings, a database that cannot be opened,
/// an address that cannot be bound.
pub async fn start(data_dir: &Path, args: &ServeArgs) -> Result<Running, String> {
    let fleet = fleet_keys(args)?;
    let telemetry = Arc::new(Telemetry::new());
    let mqtt = args
        .mqtt_url
        .as_deref()
        .map(|url| MqttPublisher::start(url, telemetry.clone()))
        .transpose()?;
    let hub = LiveHub::new(WS_BACKLOG);
    let (events, committed) = mpsc::channel(LIVE_QUEUE);
    let mqtt_enabled = mqtt.is_some();
    let listening = hub.clone();
    let has_rules = Arc::new(AtomicBool::new(false));
    let judged = has_rules.clone();
    let sink = CommitSink {
        events,
        wanted: Arc::new(move || {
            mqtt_enabled || listening.has_clients() || judged.load(Ordering::Relaxed)
        }),
    };
    // Uploads other servers on a shared database committed: live streams only
    // (each server judges alerts and publishes MQTT for its own uploads).
    let (remote_events, remote_committed) = mpsc::channel(LIVE_QUEUE);
    let watching = hub.clone();
    let remote_sink = CommitSink {
        events: remote_events,
        wanted: Arc::new(move || watching.has_clients()),
    };
    let limits = Limits {
        max_packets: args.max_packets,
        max_values: args.max_values,
        window: Some(args.policy.time_window()),
    };
    let options = StoreOptions {
        ingest: IngestConfig {
            queue: args.write_queue,
            batch: args.write_batch.max(1),
            limits,
            max_gap_ms: u64::try_from(args.policy.energy_max_gap.as_millis()).unwrap_or(u64::MAX),
        },
        sink: Some(sink),
        remote: Some(remote_sink),
        telemetry: telemetry.clone(),
        clock: crate::clock::Clock::system(),
    };
    let url = store_url(data_dir, args.database_url.as_deref());
    let store = open_store(&url, options)
        .map_err(|e| format!("cannot open the database in {}: {e}", data_dir.display()))?;
    // With the data directory's file: settle a rotation a crash interrupted.
    let master_file = match args.master_key {
        Some(_) => None,
        None => {
            settle_rotation(data_dir, store.as_ref()).await?;
            Some(crate::key_vault::key_path(data_dir))
        }
    };
    let master = Arc::new(MasterKey::load(args.master_key.as_deref(), data_dir)?);
    let sealed = seal_clear_keys(store.as_ref(), &master)
        .await
        .map_err(|e| format!("cannot seal the device keys in {}: {e}", data_dir.display()))?;
    if sealed > 0 {
        tracing::info!(devices = sealed, "device keys sealed under the master key");
    }
    let keys = Arc::new(KeyRing::new(
        store.clone(),
        master,
        master_file,
        fleet.clone(),
    ));
    let alerts = AlertEngine::start(
        store.clone(),
        hub.clone(),
        args.policy.upload_interval,
        args.policy.alert_rules.as_deref(),
        has_rules,
    )
    .await?;
    let (judged, for_outputs) = mpsc::channel(LIVE_QUEUE);
    let mut background = vec![
        tokio::spawn(crate::alerts::observe(committed, alerts.clone(), judged)),
        tokio::spawn(crate::alerts::watch(
            alerts.clone(),
            args.policy.alert_interval,
        )),
        tokio::spawn(fan_out(
            remote_committed,
            Outputs {
                hub: hub.clone(),
                mqtt: None,
                mqtt_compat: false,
            },
        )),
        tokio::spawn(fan_out(
            for_outputs,
            Outputs {
                hub: hub.clone(),
                mqtt,
                mqtt_compat: args.mqtt_compat,
            },
        )),
        tokio::spawn(keys.clone().watch(Duration::from_secs(1))),
    ];
    let secret = crate::auth::jwt::load_secret(args.policy.jwt_secret.as_deref(), data_dir)?;
    let (shutdown, stop) = watch::channel(false);
    let state = Arc::new(AppState {
        store,
        keys,
        fleet_mode: fleet.is_some(),
        limits,
        body_limit: args.max_body_bytes,
        body_timeout: args.body_timeout,
        allow_unsigned_legacy: args.allow_unsigned_legacy,
        clock_skew: skew_window(args.clock_skew),
        rate: DeviceLimiter::new(args.device_rate, args.device_burst),
        registrations: DeviceLimiter::new(args.registration_rate, REGISTRATION_BURST),
        client_rate: client_limiter(args.policy.client_rate),
        telemetry,
        live: hub,
        mqtt_enabled,
        auth: Arc::new(crate::auth::Auth::new(
            &secret,
            args.policy.login_rate,
            args.admin_token.clone(),
        )),
        policy: args.policy.clone(),
        rejections: crate::rejections::Rejections::default(),
        alerts,
        data_dir: data_dir.to_path_buf(),
        ws_limits: WsLimits::new(args.max_ws, args.max_ws_per_address),
        stopping: stop.clone(),
        manage: Arc::new(crate::manage::Manage::new(args.manage.clone())),
        weather: Arc::new(crate::weather::WeatherService::new(args.weather.clone())?),
        generic: args.generic.clone(),
        site: args
            .site
            .as_deref()
            .map(crate::site::Site::load)
            .transpose()
            .map_err(|e| format!("--site: {e}"))?
            .map(Arc::new),
    });
    if state.rate.is_some() || state.registrations.is_some() || state.client_rate.is_some() {
        let pruned = state.clone();
        background.push(tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(60));
            loop {
                every.tick().await;
                let limiters = [&pruned.rate, &pruned.registrations, &pruned.client_rate];
                for rate in limiters.into_iter().flatten() {
                    rate.prune();
                }
            }
        }));
    }
    if let (Some(url), Some(filter)) = (&args.mqtt_url, &args.mqtt_ingest) {
        let client_id = args
            .mqtt_client_id
            .clone()
            .unwrap_or_else(|| crate::mqtt_ingest::default_client_id(data_dir, args.listen));
        background.extend(crate::mqtt_ingest::start(
            url,
            filter,
            client_id,
            state.clone(),
        )?);
    }
    background.push(tokio::spawn(crate::auth::upkeep(
        state.auth.clone(),
        state.store.clone(),
    )));
    background.push(tokio::spawn(crate::retention::run(
        state.store.clone(),
        state.policy.clone(),
    )));
    let metrics_addr = match args.metrics_listen {
        Some(at) => {
            let listener = TcpListener::bind(at)
                .await
                .map_err(|e| format!("cannot listen on {at}: {e}"))?;
            let addr = listener.local_addr().ok();
            background.push(tokio::spawn(serve_operational(
                listener,
                state.clone(),
                args.header_timeout,
            )));
            addr
        }
        None => None,
    };
    let listener = TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("no local address: {e}"))?;
    let settings = ConnSettings {
        header_timeout: args.header_timeout,
        max_connections: args.max_connections.max(1),
        max_per_address: args.max_connections_per_address.max(1),
        max_header_bytes: args.max_header_bytes.max(1024),
    };
    let accept = tokio::spawn(accept_loop(listener, state, settings, stop));
    Ok(Running {
        addr,
        metrics_addr,
        database: database_path(data_dir),
        fleet_mode: fleet.is_some(),
        shutdown,
        accept,
        background,
    })
}

/// Connections the metrics listener serves at once.
const OPERATIONAL_CONNECTIONS: usize = 16;

/// Serves `/status` and `/metrics` without credentials on their own address.
async fn serve_operational(listener: TcpListener, state: Arc<AppState>, header_timeout: Duration) {
    let filter = crate::http::operational_routes(&state);
    let slots = Arc::new(Semaphore::new(OPERATIONAL_CONNECTIONS));
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            continue;
        };
        let service = warp::service(filter.clone());
        tokio::spawn(async move {
            let _permit = permit;
            let service = hyper_util::service::TowerToHyperService::new(service);
            let _ = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

#[derive(Debug, Clone, Copy)]
struct ConnSettings {
    header_timeout: Duration,
    max_connections: usize,
    max_per_address: usize,
    max_header_bytes: usize,
}

async fn accept_loop(
    listener: TcpListener,
    state: Arc<AppState>,
    settings: ConnSettings,
    mut stop: watch::Receiver<bool>,
) {
    let filter = crate::http::routes(&state);
    let slots = Arc::new(Semaphore::new(settings.max_connections));
    let per_address = PerAddress::new(settings.max_per_address);
    let refusing = crate::overflow::slots();
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: back off, do not spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stop.changed() => break,
        };
        let _ = stream.set_nodelay(true);
        let Some(address) = per_address.try_acquire(peer.ip()) else {
            crate::overflow::refuse(stream, &refusing);
            continue;
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            crate::overflow::refuse(stream, &refusing);
            continue;
        };
        let held = ConnectionSlot::new(permit, address);
        let framing = FramingFlag::default();
        let io = TokioIo::new(Guarded::new(stream, framing.clone()));
        let warp_service = warp::service(filter.clone());
        // Each request carries its client address (login limits per address).
        // A 405 gets its `Allow` here, where the request's path is at hand.
        // `HEAD` is routed as `GET`: hyper, which parsed the request, sends
        // the answer's headers without its body.
        // Refused framing is answered before any route sees the request.
        let service = hyper::service::service_fn(move |mut request: http::Request<_>| {
            let refused = crate::http::framing::refuse(request.headers(), framing.take());
            request.extensions_mut().insert(PeerAddr(peer));
            request.extensions_mut().insert(held.clone());
            if request.method() == http::Method::HEAD {
                *request.method_mut() = http::Method::GET;
            }
            let mut routes = warp_service.clone();
            async move {
                if let Some(refused) = refused {
                    return Ok(refused);
                }
                let uri = request.uri().clone();
                tower_service::Service::call(&mut routes, request)
                    .await
                    .map(|response| crate::http::allow::on_405(response, uri.path()))
            }
        });
        let mut stop = stop.clone();
        tokio::spawn(async move {
            let mut builder = http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(settings.header_timeout)
                .keep_alive(true)
                .max_header_size(settings.max_header_bytes)
                .max_buf_size(settings.max_header_bytes.max(64 * 1024) + 8192);
            let conn = builder.serve_connection(io, service).with_upgrades();
            let mut conn = std::pin::pin!(conn);
            tokio::select! {
                result = conn.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                }
                _ = stop.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(GRACE, conn).await;
                }
            }
        });
    }
    // Wait for open connections to finish their requests.
    let all = u32::try_from(settings.max_connections).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(GRACE, slots.acquire_many(all)).await;
}
