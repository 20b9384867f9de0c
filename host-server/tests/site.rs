//! A storage plant end to end (issue 15): the demo site (2 BESS × 12
//! racks, 2 PCS, 2 meters, 2 inverters) is added over the admin API with
//! each device's profile, its simulated physics upload a few minutes of
//! samples through the signed envelope, and every SolarHub endpoint's
//! numbers are checked against values this test computes from the samples
//! it sent. `solarwire simulate --site` then adds and drives a site of its
//! own. Runs on PostgreSQL too.

mod common;

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use common::{PASSWORD, Server, add_user, database_env};
use reqwest::StatusCode;
use serde_json::{Value, json};
use solarwire_core::envelope::Keys;
use solarwire_core::registers::{Catalog, Profile, Register, Severity};
use solarwire_server::simulate::firmware::FirmwareDevice;
use solarwire_server::simulate::plant::{Plant, PvCurve};
use solarwire_server::site::{MeterRole, Site, demo, profile_for};

/// Polls per upload and seconds between them.
const SAMPLES: u64 = 3;
const POLL_MS: u64 = 5_000;
/// Uploads per device.
const UPLOADS: u64 = 12;

/// What the test sent: each device's `(t_ms, row)`, oldest first.
type Sent = HashMap<String, Vec<(u64, Vec<u16>)>>;

fn catalog() -> &'static Catalog {
    static CATALOG: std::sync::OnceLock<Catalog> = std::sync::OnceLock::new();
    CATALOG.get_or_init(Catalog::builtin)
}

fn profile_of(site: &Site, device: &str) -> &'static Profile {
    let kind = site.devices().find(|(d, _)| *d == device).unwrap().1;
    catalog().profile(profile_for(kind)).unwrap()
}

fn register<'p>(profile: &'p Profile, name: &str) -> &'p Register {
    profile.registers.iter().find(|r| r.name == name).unwrap()
}

/// The value of register `name` in `device`'s newest row sent.
fn last(site: &Site, sent: &Sent, device: &str, name: &str) -> f64 {
    let row = &sent[device].last().unwrap().1;
    let r = register(profile_of(site, device), name);
    r.read(row[usize::from(r.id)]).value.to_f64()
}

fn last_raw(site: &Site, sent: &Sent, device: &str, name: &str) -> u16 {
    let r = register(profile_of(site, device), name);
    sent[device].last().unwrap().1[usize::from(r.id)]
}

fn close(got: &Value, want: f64, what: &str) {
    let got = got
        .as_f64()
        .unwrap_or_else(|| panic!("{what}: {got} is not a number"));
    assert!(
        (got - want).abs() <= 1e-9 * want.abs().max(1.0),
        "{what}: got {got}, want {want}"
    );
}

/// Adds every site device with its profile over the admin API.
async fn add_devices(server: &Server, site: &Site) -> Vec<FirmwareDevice> {
    let mut devices = Vec::new();
    for (id, kind) in site.devices() {
        let profile = catalog().profile(profile_for(kind)).unwrap();
        let (status, reply) = server
            .post(
                "/api/v1/devices",
                json!({"device_id": id, "profile": profile.name}).to_string(),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{reply}");
        let key = hex::decode(reply["hmac_key"].as_str().unwrap()).unwrap();
        let layout = profile.registers.iter().map(|r| r.id).collect();
        let mut device = FirmwareDevice::new(id, Keys::new(&key), layout);
        device.profile = profile;
        devices.push(device);
    }
    devices
}

/// One sealed upload of `rows` ending at `t_ms`; asserts it is stored.
async fn upload(server: &Server, device: &mut FirmwareDevice, rows: &[Vec<u16>], t_ms: u64) {
    let packet = device.compress(rows, t_ms);
    let json = device.upload_json(&[packet], t_ms / 1000, (POLL_MS / 1000) as u32);
    let sealed = device.seal(&json).unwrap();
    let path = format!("/aggregated/{}", device.id);
    let (status, reply) = server.post(&path, sealed.body).await;
    assert_eq!(status, StatusCode::OK, "{}: {reply}", device.id);
}

/// Drives the plant for `UPLOADS` upload periods ending at `end_ms`.
async fn simulate(
    server: &Server,
    site: &Site,
    devices: &mut [FirmwareDevice],
    end_ms: u64,
) -> Sent {
    // A constant full sun: the inverters deliver whatever the hour.
    let sun = PvCurve::from_csv("t,p\n0,1\n", 900).unwrap();
    let mut plant = Plant::new(site.clone(), sun, 11);
    let mut sent = Sent::new();
    let start = end_ms - (UPLOADS * SAMPLES - 1) * POLL_MS;
    for k in 0..UPLOADS {
        let times: Vec<u64> = (0..SAMPLES)
            .map(|j| start + (k * SAMPLES + j) * POLL_MS)
            .collect();
        for device in devices.iter_mut() {
            let rows: Vec<Vec<u16>> = times
                .iter()
                .map(|&t| plant.row(&device.id, t).unwrap())
                .collect();
            upload(server, device, &rows, *times.last().unwrap()).await;
            let log = sent.entry(device.id.clone()).or_default();
            log.extend(times.iter().copied().zip(rows));
        }
    }
    sent
}

/// A last sample with alarms: PCS 1 trips "DC overvoltage" (fault bit 3),
/// BESS 1 rack 01 "Cell overvoltage" (protection bit 0) and a warning.
async fn raise_alarms(
    server: &Server,
    site: &Site,
    devices: &mut [FirmwareDevice],
    sent: &mut Sent,
    t_ms: u64,
) {
    let edits = [
        ("pcs1", "FaultStatus1", 0b1000),
        ("bess1-rack01", "Protection", 0b1),
        ("bess1-rack01", "Warning", 0b100_0000),
    ];
    for device in devices.iter_mut() {
        let mine: Vec<_> = edits.iter().filter(|e| e.0 == device.id).collect();
        if mine.is_empty() {
            continue;
        }
        let mut row = sent[&device.id].last().unwrap().1.clone();
        for (_, name, bits) in mine {
            let r = register(profile_of(site, &device.id), name);
            row[usize::from(r.id)] = *bits;
        }
        upload(server, device, std::slice::from_ref(&row), t_ms).await;
        sent.get_mut(&device.id).unwrap().push((t_ms, row));
    }
}

fn now_ms() -> u64 {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    u64::try_from(now.as_millis()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn solarhub_endpoints_agree_with_the_samples_sent() {
    let site = demo();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("site.toml");
    std::fs::write(&file, site.to_toml()).unwrap();
    let server = Server::start_in(dir, &["--site", file.to_str().unwrap()]).await;
    let mut devices = add_devices(&server, &site).await;
    let (status, rule) = server
        .post(
            "/api/v1/alerts/rules",
            json!({"name": "plant status words", "kind": "status"}).to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{rule}");
    // The last poll a whole minute ago, on a 5 s grid: every sample dated today's past.
    let end_ms = (now_ms() - 60_000) / POLL_MS * POLL_MS;
    let mut sent = simulate(&server, &site, &mut devices, end_ms - POLL_MS).await;
    raise_alarms(&server, &site, &mut devices, &mut sent, end_ms).await;

    check_bess(&server, &site, &sent).await;
    check_pcs(&server, &site, &sent).await;
    check_meters(&server, &site, &sent).await;
    check_inverter(&server, &site, &sent).await;
    check_system(&server, &site, &sent).await;
    check_config(&server, &site, &sent).await;
    check_access_and_validation(&server).await;
    check_status_alerts(&server, &site, &mut devices, &mut sent, end_ms + POLL_MS).await;
}

/// The `pcs1` device's alerts (`open`: the open ones, else the closed ones),
/// once the alert engine has judged them (it runs beside ingest).
async fn pcs1_alerts(server: &Server, open: bool) -> Vec<Value> {
    for _ in 0..100 {
        let (_, list) = server
            .get(&format!("/api/v1/alerts?open={open}&device=pcs1"))
            .await;
        let alerts = list["alerts"].as_array().cloned().unwrap_or_default();
        if !alerts.is_empty() {
            return alerts;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    Vec::new()
}

/// The status rule opened an alert for PCS 1's fault word, and a sample
/// without problem bits closes it.
async fn check_status_alerts(
    server: &Server,
    site: &Site,
    devices: &mut [FirmwareDevice],
    sent: &mut Sent,
    t_ms: u64,
) {
    let open = pcs1_alerts(server, true).await;
    let fault = open
        .iter()
        .find(|a| {
            a["message"]
                .as_str()
                .unwrap()
                .contains("FaultStatus1 fault: DC overvoltage")
        })
        .unwrap_or_else(|| panic!("{open:?}"));
    assert_eq!(fault["kind"], "status");
    let pcs1 = devices.iter_mut().find(|d| d.id == "pcs1").unwrap();
    let profile = profile_of(site, "pcs1");
    let mut row = sent["pcs1"].last().unwrap().1.clone();
    for r in profile.registers.iter().filter(|r| !r.bits.is_empty()) {
        if r.bits.iter().any(|b| b.severity > Severity::Info) {
            row[usize::from(r.id)] = 0;
        }
    }
    upload(server, pcs1, std::slice::from_ref(&row), t_ms).await;
    sent.get_mut("pcs1").unwrap().push((t_ms, row));
    let closed = pcs1_alerts(server, false).await;
    assert!(closed.iter().any(|a| a["id"] == fault["id"]), "{closed:?}");
    let (_, header) = server.get("/api/v1/config/header").await;
    let faults = header["fault_info"]["items"].as_array().unwrap();
    assert!(
        !faults
            .iter()
            .any(|i| i.as_str().unwrap().starts_with("PCS1:")),
        "{header}"
    );
}

async fn check_bess(server: &Server, site: &Site, sent: &Sent) {
    for b in &site.bess {
        let (status, table) = server.get(&format!("/api/v1/bess/{}", b.number)).await;
        assert_eq!(status, StatusCode::OK, "{table}");
        assert_eq!(table["bess_number"], b.number);
        assert_eq!(table["table_head"].as_array().unwrap().len(), b.racks.len());
        let metrics = [
            "Mode", "Voltage", "Current", "Power", "Soc", "Soh", "CellVmax", "CellVmin",
            "CellTmax", "CellTmin",
        ];
        for (i, rack) in b.racks.iter().enumerate() {
            let column = format!("Rack {:02}", i + 1);
            for (m, name) in metrics.iter().enumerate() {
                let r = register(profile_of(site, rack), name);
                let raw = last_raw(site, sent, rack, name);
                let want = match r.state(raw) {
                    Some(state) => state.to_owned(),
                    None => r.read(raw).value.format_fixed(r.decimals),
                };
                assert_eq!(table["data"][m][&column], want, "{rack} {name}");
            }
        }
    }
    let (_, alerts) = server.get("/api/v1/bess/alert/rack/rack01").await;
    assert_eq!(alerts["rack_number"], "rack01");
    for b in &site.bess {
        for (key, word) in [
            ("protection", "Protection"),
            ("alarm", "Alarm"),
            ("warning", "Warning"),
        ] {
            let rack = &b.racks[0];
            let r = register(profile_of(site, rack), word);
            let names: Vec<&str> = r
                .active_bits(last_raw(site, sent, rack, word))
                .map(|bit| bit.name.as_str())
                .collect();
            let want = if names.is_empty() {
                "正常".to_owned()
            } else {
                names.join("; ")
            };
            assert_eq!(
                alerts["battery_alerts"][format!("battery_{}_{key}", b.number)],
                want
            );
        }
    }
    assert_eq!(
        alerts["battery_alerts"]["battery_1_protection"],
        "Cell overvoltage"
    );
    assert_eq!(
        alerts["bams_alerts"]["bams_1_status"],
        "BAMS communication delay"
    );
}

async fn check_pcs(server: &Server, site: &Site, sent: &Sent) {
    for p in &site.pcs {
        let (status, unit) = server.get(&format!("/api/v1/pcs/{}", p.number)).await;
        assert_eq!(status, StatusCode::OK, "{unit}");
        for (field, name) in [
            ("active_power", "ActivePower"),
            ("reactive_power", "ReactivePower"),
            ("dc_voltage", "DcVoltage"),
            ("dc_current", "DcCurrent"),
            ("frequency", "Frequency"),
            ("temperature", "Temperature"),
        ] {
            close(&unit[field], last(site, sent, &p.device, name), field);
        }
        let (_, words) = server
            .get(&format!("/api/v1/pcs/alert?pcs_number={}", p.number))
            .await;
        for (field, name) in [
            ("inverter_status", "InverterStatus"),
            ("inverter_inhibits1_status", "Inhibits1"),
            ("environment_status", "EnvironmentStatus"),
            ("warning_status", "WarningStatus"),
            ("grid_status", "GridStatus"),
            ("fault_status1", "FaultStatus1"),
            ("fault_status2", "FaultStatus2"),
        ] {
            let raw = last_raw(site, sent, &p.device, name);
            assert_eq!(words[field], format!("{raw:016b}"), "{field}");
        }
    }
    let (_, default) = server.get("/api/v1/pcs/alert").await;
    assert_eq!(default["fault_status1"], "0000000000001000");
}

async fn check_meters(server: &Server, site: &Site, sent: &Sent) {
    let (_, all) = server.get("/api/v1/meters").await;
    assert_eq!(all["meter_count"], site.meters.len());
    let mut total = 0.0;
    for (i, m) in site.meters.iter().enumerate() {
        let got = &all["meters"][i];
        assert_eq!(got["meter_id"], m.number);
        for (field, name) in [
            ("phase_a_current", "Ia"),
            ("phase_b_current", "Ib"),
            ("phase_c_current", "Ic"),
            ("phase_a_voltage", "Va"),
            ("phase_b_voltage", "Vb"),
            ("phase_c_voltage", "Vc"),
            ("active_power", "P"),
            ("reactive_power", "Q"),
            ("apparent_power", "S"),
            ("frequency", "Frequency"),
            ("power_factor", "Pf"),
        ] {
            close(&got[field], last(site, sent, &m.device, name), field);
        }
        total += last(site, sent, &m.device, "P");
    }
    close(&all["total_power"], total, "total_power");

    // The aux meter over the samples' day: energy by trapezoids, mean, extremes.
    let aux = site
        .meters
        .iter()
        .find(|m| m.role == MeterRole::Aux)
        .unwrap();
    let p = register(profile_of(site, &aux.device), "P");
    let t_last = sent[&aux.device].last().unwrap().0;
    let day_start = t_last / 86_400_000 * 86_400_000;
    let points: Vec<(u64, f64)> = sent[&aux.device]
        .iter()
        .filter(|(t, _)| *t >= day_start)
        .map(|(t, row)| (*t, p.read(row[usize::from(p.id)]).value.to_f64()))
        .collect();
    let mut energy = 0.0;
    for w in points.windows(2) {
        if w[1].0 - w[0].0 <= 120_000 {
            energy += (w[0].1 + w[1].1) / 2.0 * (w[1].0 - w[0].0) as f64 / 3_600_000.0;
        }
    }
    let powers: Vec<f64> = points.iter().map(|x| x.1).collect();
    let date = iso_date(t_last);
    let (status, summary) = server
        .get(&format!("/api/v1/meters/aux?time={date}&data_type=summary"))
        .await;
    assert_eq!(status, StatusCode::OK, "{summary}");
    assert_eq!(summary["data_type"], "summary");
    assert_eq!(summary["data"]["samples"], points.len());
    close(&summary["data"]["total_energy"], energy, "total_energy");
    close(
        &summary["data"]["avg_power"],
        powers.iter().sum::<f64>() / powers.len() as f64,
        "avg_power",
    );
    close(
        &summary["data"]["max_power"],
        powers.iter().copied().fold(f64::MIN, f64::max),
        "max_power",
    );
    close(
        &summary["data"]["min_power"],
        powers.iter().copied().fold(f64::MAX, f64::min),
        "min_power",
    );
    let (_, chart) = server.get(&format!("/api/v1/meters/aux?time={date}")).await;
    let pairs = chart["data"].as_array().unwrap();
    assert_eq!(pairs.len(), points.len());
    for (got, (t, p)) in pairs.iter().zip(&points) {
        assert_eq!(got[0], *t);
        close(&got[1], *p, "chart power");
    }
}

/// `YYYY-MM-DD` of a Unix ms time (UTC).
fn iso_date(t_ms: u64) -> String {
    let ts = jiff::Timestamp::from_millisecond(i64::try_from(t_ms).unwrap()).unwrap();
    ts.strftime("%Y-%m-%d").to_string()
}

async fn check_inverter(server: &Server, site: &Site, sent: &Sent) {
    for i in &site.inverters {
        let (status, inv) = server
            .get(&format!("/api/v1/inverter?inverter_number={}", i.number))
            .await;
        assert_eq!(status, StatusCode::OK, "{inv}");
        let d = &i.device;
        let data = &inv["inverter_data"];
        close(&data["nominal_active_power"], i.nominal_power_kw, "nominal");
        for (field, name) in [
            ("total_active_power", "P"),
            ("total_apparent_power", "S"),
            ("total_reactive_power", "Q"),
            ("daily_power_yields", "DailyYield"),
            ("total_power_yields", "TotalYield"),
            ("internal_temperature", "Temp"),
            ("bus_voltage", "BusVoltage"),
            ("dc_power", "DcPower"),
        ] {
            close(&data[field], last(site, sent, d, name), field);
        }
        assert!(
            data["total_active_power"].as_f64().unwrap() > 0.0,
            "full sun"
        );
        for k in 1..=4 {
            let m = &inv["mppt_data"][k - 1];
            let v = last(site, sent, d, &format!("Vmppt{k}"));
            let a = last(site, sent, d, &format!("Imppt{k}"));
            close(&m["voltage"], v, "mppt voltage");
            close(&m["current"], a, "mppt current");
            close(&m["power"], v * a, "mppt power");
        }
        for s in 1..=8 {
            let want = last(site, sent, d, &format!("Istr{s}"));
            close(
                &inv["string_currents"][s - 1]["current"],
                want,
                "string current",
            );
        }
        for (k, (v, a)) in [("Va", "Ia"), ("Vb", "Ib"), ("Vc", "Ic")]
            .iter()
            .enumerate()
        {
            close(
                &inv["phase_data"][k]["voltage"],
                last(site, sent, d, v),
                "phase voltage",
            );
            close(
                &inv["phase_data"][k]["current"],
                last(site, sent, d, a),
                "phase current",
            );
        }
    }
}

async fn check_system(server: &Server, site: &Site, sent: &Sent) {
    let (status, o) = server.get("/api/v1/system/overview").await;
    assert_eq!(status, StatusCode::OK, "{o}");
    let sum = |devices: Vec<&str>, name: &str| -> f64 {
        devices.iter().map(|d| last(site, sent, d, name)).sum()
    };
    let inverters: Vec<&str> = site.inverters.iter().map(|i| i.device.as_str()).collect();
    close(&o["pv_power"], sum(inverters, "P"), "pv_power");
    let pcs: Vec<&str> = site.pcs.iter().map(|p| p.device.as_str()).collect();
    close(&o["pcs_power"], sum(pcs, "ActivePower"), "pcs_power");
    for (role, field) in [
        (MeterRole::Grid, "grid_power"),
        (MeterRole::Aux, "aux_power"),
    ] {
        let meters = site
            .meters
            .iter()
            .filter(|m| m.role == role)
            .map(|m| m.device.as_str());
        close(&o[field], sum(meters.collect(), "P"), field);
    }
    let racks: Vec<&str> = site
        .bess
        .iter()
        .flat_map(|b| b.racks.iter().map(String::as_str))
        .collect();
    let n = racks.len() as f64;
    close(&o["soc"], sum(racks, "Soc") / n, "soc");
    for (i, b) in site.bess.iter().enumerate() {
        let racks: Vec<&str> = b.racks.iter().map(String::as_str).collect();
        let n = racks.len() as f64;
        close(
            &o["bess"][i]["soc"],
            sum(racks.clone(), "Soc") / n,
            "bess soc",
        );
        close(&o["bess"][i]["power"], sum(racks, "Power"), "bess power");
    }
    assert_eq!(o["devices_online"], 30);
    assert_eq!(o["number_of_devices"], 30);

    let (_, topology) = server.get("/api/v1/system/topology").await;
    let nodes = topology["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 2 + 2 + 2 + 2 + 2, "{topology}");
    assert!(nodes.iter().all(|n| n["status"] == "online"), "{topology}");
    let links = topology["links"].as_array().unwrap();
    assert!(links.contains(&json!({"source": "pcs_2", "target": "bess_2", "status": "connected"})));

    let (status, health) = server.get("/health/detailed").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(health["status"], "healthy", "{health}");
    assert_eq!(
        health["infrastructure"]["databases"]["connections"]["storage"],
        true
    );
}

async fn check_config(server: &Server, site: &Site, sent: &Sent) {
    let (_, sidebar) = server.get("/api/v1/config/sidebar").await;
    assert_eq!(
        (
            &sidebar["bess_number"],
            &sidebar["pcs_number"],
            &sidebar["inverter_number"],
            &sidebar["rack_number"],
            &sidebar["number_of_devices"],
        ),
        (&json!(2), &json!(2), &json!(2), &json!(12), &json!(30))
    );
    // Every bit set in the newest samples, by severity, named by unit.
    let mut want: HashMap<&str, Vec<String>> = HashMap::new();
    let mut labelled: Vec<(String, &str)> = Vec::new();
    for b in &site.bess {
        for (i, r) in b.racks.iter().enumerate() {
            labelled.push((format!("BESS{} rack{:02}", b.number, i + 1), r));
        }
    }
    labelled.extend(
        site.pcs
            .iter()
            .map(|p| (format!("PCS{}", p.number), p.device.as_str())),
    );
    labelled.extend(
        site.meters
            .iter()
            .map(|m| (format!("Meter{}", m.number), m.device.as_str())),
    );
    labelled.extend(
        site.inverters
            .iter()
            .map(|i| (format!("Inverter{}", i.number), i.device.as_str())),
    );
    for (label, device) in &labelled {
        let profile = profile_of(site, device);
        for r in profile.registers.iter().filter(|r| !r.bits.is_empty()) {
            for bit in r.active_bits(last_raw(site, sent, device, &r.name)) {
                let group = match bit.severity {
                    Severity::Protection => "protection_info",
                    Severity::Warning | Severity::Alarm => "warning_info",
                    Severity::Fault => "fault_info",
                    Severity::Info => continue,
                };
                want.entry(group)
                    .or_default()
                    .push(format!("{label}: {}", bit.name));
            }
        }
    }
    let (_, header) = server.get("/api/v1/config/header").await;
    for group in ["protection_info", "warning_info", "fault_info"] {
        let items = want.remove(group).unwrap_or_default();
        assert_eq!(header[group]["count"], items.len(), "{group}");
        assert_eq!(header[group]["items"], json!(items), "{group}");
    }
    assert!(
        header["fault_info"]["items"]
            .as_array()
            .unwrap()
            .contains(&json!("PCS1: DC overvoltage"))
    );
}

async fn check_access_and_validation(server: &Server) {
    let anon = |path: &str| server.anon.get(format!("{}{path}", server.url)).send();
    assert_eq!(
        anon("/api/v1/bess/1").await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    let root = server
        .anon
        .get(format!("{}/", server.url))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(root.status(), StatusCode::UNAUTHORIZED);
    let page = anon("/").await.unwrap();
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let info: Value = server
        .client
        .get(format!("{}/", server.url))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["docs"], "/docs");

    add_user(server, "operator", "viewer").await;
    let login = server
        .anon
        .post(format!("{}/api/v1/auth/login/json", server.url))
        .json(&json!({"username": "operator", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::OK);
    let token: Value = login.json().await.unwrap();
    let bearer = server
        .anon
        .get(format!("{}/api/v1/config/sidebar", server.url))
        .bearer_auth(token["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.status(), StatusCode::OK);

    for (path, kind, loc, input) in [
        (
            "/api/v1/bess/0",
            "greater_than_equal",
            json!(["path", "bess_number"]),
            json!(0),
        ),
        (
            "/api/v1/bess/3",
            "less_than_equal",
            json!(["path", "bess_number"]),
            json!(3),
        ),
        (
            "/api/v1/pcs/two",
            "int_parsing",
            json!(["path", "pcs_number"]),
            json!("two"),
        ),
        (
            "/api/v1/pcs/alert?pcs_number=9",
            "less_than_equal",
            json!(["query", "pcs_number"]),
            json!(9),
        ),
        (
            "/api/v1/bess/alert/rack/rack13",
            "value_error",
            json!(["path", "rack_number"]),
            json!("rack13"),
        ),
        (
            "/api/v1/bess/alert/rack/r1",
            "string_pattern_mismatch",
            json!(["path", "rack_number"]),
            json!("r1"),
        ),
        (
            "/api/v1/meters/aux?data_type=pie",
            "literal_error",
            json!(["query", "data_type"]),
            json!("pie"),
        ),
        (
            "/api/v1/meters/aux?time=2025-02-30",
            "date_parsing",
            json!(["query", "time"]),
            json!("2025-02-30"),
        ),
        (
            "/api/v1/inverter?inverter_number=0",
            "greater_than_equal",
            json!(["query", "inverter_number"]),
            json!(0),
        ),
    ] {
        let (status, body) = server.get(path).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{path}: {body}");
        assert_eq!(body["error"], "validation_error");
        let detail = &body["detail"][0];
        assert_eq!(
            (&detail["type"], &detail["loc"], &detail["input"]),
            (&json!(kind), &loc, &input),
            "{path}"
        );
        assert!(detail["msg"].as_str().is_some_and(|m| !m.is_empty()));
    }
}

/// `solarwire simulate --site` adds the site's devices with their profiles
/// and drives them; the SolarHub routes then read what it stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_site_simulator_adds_and_drives_its_devices() {
    let mut site = demo();
    site.bess.truncate(1);
    site.bess[0].racks.truncate(3);
    site.pcs.truncate(1);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("site.toml");
    std::fs::write(&file, site.to_toml()).unwrap();
    let server = Server::start_in(dir, &["--site", file.to_str().unwrap()]).await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_solarwire"))
        .env_remove("SOLARWIRE_MASTER_KEY")
        .envs(database_env(server.dir.path()))
        .arg("--data-dir")
        .arg(server.dir.path())
        .args(["simulate", "--url", &server.url, "--site"])
        .arg(&file)
        .args(["--rate", "4", "--duration", "3s", "--no-pollers", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let summary: Value =
        serde_json::from_slice(&out.stdout[out.stdout.iter().position(|&b| b == b'{').unwrap()..])
            .unwrap();
    let devices = site.devices().count();
    assert_eq!(summary["rejected"], json!({}), "{summary}");
    assert!(
        summary["acked"].as_u64().unwrap() >= devices as u64,
        "{summary}"
    );
    let (_, list) = server.get("/api/v1/devices").await;
    assert_eq!(list["devices"].as_array().unwrap().len(), devices);
    let (_, table) = server.get("/api/v1/bess/1").await;
    let soc = table["data"][4]["Rack 01"].as_str().unwrap();
    let soc: f64 = soc.parse().unwrap();
    assert!((0.0..=100.0).contains(&soc), "{table}");
    let (_, meters) = server.get("/api/v1/meters").await;
    let aux = meters["meters"][1]["active_power"].as_f64().unwrap();
    assert!(aux > 10.0, "the plant's own load: {meters}");
}
