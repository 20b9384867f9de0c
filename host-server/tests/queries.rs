//! Series, energy, statistics, CSV, the fleet list and device management,
//! and retention, over HTTP against a real server and SQLite file.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{Server, next_upload};
use reqwest::StatusCode;
use serde_json::{Value, json};
use solarwire_server::simulate::firmware::FirmwareDevice;

/// Posts the uploads of `cycles` and returns the stored `(t_ms, Pac)` pairs.
async fn upload(
    server: &Server,
    device: &mut FirmwareDevice,
    id: &str,
    cycles: &[u64],
) -> Vec<(u64, f64)> {
    for &cycle in cycles {
        let (_, body) = next_upload(device, cycle);
        let (status, reply) = server.post(&format!("/aggregated/{id}"), body).await;
        assert_eq!(status, StatusCode::OK, "{reply}");
    }
    let (_, history) = server
        .get(&format!("/api/v1/devices/{id}/history?limit=10000"))
        .await;
    history["samples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["t_ms"].as_u64().unwrap(),
                s["values"]["Pac"].as_f64().unwrap(),
            )
        })
        .collect()
}

/// Trapezoid energy (Wh) and covered seconds of `points`, joining only
/// neighbours at most `max_gap_ms` apart.
fn expected_energy(points: &[(u64, f64)], max_gap_ms: u64) -> (f64, u64) {
    let mut wh = 0.0;
    let mut covered = 0;
    for w in points.windows(2) {
        let ((t0, p0), (t1, p1)) = (w[0], w[1]);
        if t1 - t0 <= max_gap_ms {
            wh += (p0 + p1) / 2.0 * (t1 - t0) as f64 / 1000.0 / 3600.0;
            covered += t1 - t0;
        }
    }
    (wh, covered / 1000)
}

#[tokio::test]
async fn series_buckets_and_csv() {
    let server = Server::start(&[]).await;
    let mut device = server.add_device("D1");
    let points = upload(&server, &mut device, "D1", &(0..12).collect::<Vec<_>>()).await;
    assert_eq!(points.len(), 36);
    let (from, to) = (points[0].0 - 60_000, points[35].0 + 60_000);

    let mut by_minute: BTreeMap<u64, Vec<f64>> = BTreeMap::new();
    for &(t, p) in &points {
        by_minute.entry(t - t % 60_000).or_default().push(p);
    }
    for agg in ["avg", "min", "max", "last"] {
        let (status, s) = server
            .get(&format!(
                "/api/v1/devices/D1/series?register=REG_PAC&from={from}&to={to}&step=1m&agg={agg}"
            ))
            .await;
        assert_eq!(status, StatusCode::OK, "{s}");
        assert_eq!(
            (s["register"].as_str(), s["unit"].as_str()),
            (Some("Pac"), Some("W"))
        );
        for p in s["points"].as_array().unwrap() {
            let t = p["t_ms"].as_u64().unwrap();
            let want = by_minute.get(&t).map(|v| match agg {
                "avg" => v.iter().sum::<f64>() / v.len() as f64,
                "min" => v.iter().copied().fold(f64::MAX, f64::min),
                "max" => v.iter().copied().fold(f64::MIN, f64::max),
                _ => *v.last().unwrap(),
            });
            assert_eq!(p["value"].as_f64(), want, "{agg} at {t}");
        }
    }
    // Another register by its device name; CSV by parameter and by Accept.
    let (status, temp) = server
        .get(&format!(
            "/api/v1/devices/D1/series?register=temp&from={from}&to={to}&step=5m"
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(temp["unit"], "°C");
    let url = format!(
        "{}/api/v1/devices/D1/series?from={from}&to={to}&step=1m",
        server.url
    );
    for request in [
        server.client.get(format!("{url}&format=csv")),
        server.client.get(&url).header("accept", "text/csv"),
    ] {
        let r = request.send().await.unwrap();
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/csv")
        );
        let text = r.text().await.unwrap();
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("t_ms,time,Pac,count"));
        let counted: u64 = lines
            .map(|l| l.rsplit(',').next().unwrap().parse::<u64>().unwrap())
            .sum();
        assert_eq!(counted, 36);
    }
    let history_csv = server
        .client
        .get(format!(
            "{}/api/v1/devices/D1/history?format=csv&registers=Pac,Temp",
            server.url
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        history_csv.starts_with("t_ms,time,device_time,approximate,Temp,Pac\r\n"),
        "{history_csv}"
    );
    assert_eq!(history_csv.lines().count(), 37);

    // Bad requests.
    for query in [
        "register=Nope",
        "step=0s",
        "step=1s&from=0&to=999999999",
        "agg=median",
        "from=5&to=4",
    ] {
        let (status, e) = server
            .get(&format!("/api/v1/devices/D1/series?{query}"))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {e}");
    }
    assert_eq!(
        server.get("/api/v1/devices/NOPE/series").await.0,
        StatusCode::NOT_FOUND
    );
    server.stop().await;
}

#[tokio::test]
async fn energy_integrates_power_and_states_what_is_missing() {
    let server = Server::start(&["--energy-max-gap", "10s"]).await;
    let mut device = server.add_device("D1");
    // Cycle 5 is lost: a 20 s hole that must not count as production.
    let cycles: Vec<u64> = (0..20).filter(|&c| c != 5).collect();
    let points = upload(&server, &mut device, "D1", &cycles).await;
    let (wh, covered_s) = expected_energy(&points, 10_000);
    assert!(
        covered_s < (points.last().unwrap().0 - points[0].0) / 1000,
        "the hole is not covered"
    );

    let (status, day) = server
        .get("/api/v1/devices/D1/energy?period=day&at=2025-11-23&tz=UTC")
        .await;
    assert_eq!(status, StatusCode::OK, "{day}");
    assert_eq!(day["buckets"].as_array().unwrap().len(), 24);
    assert!(
        (day["total_wh"].as_f64().unwrap() - wh).abs() < 1e-9,
        "{} vs {wh}",
        day["total_wh"]
    );
    assert_eq!(day["max_gap_s"], 10);
    let covered: u64 = day["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["covered_s"].as_u64().unwrap())
        .sum();
    assert_eq!(covered, covered_s);
    // The device's data starts that day (it was registered later, in the
    // test's present): the time before its first sample's 5-minute bucket
    // is not missing, all else after it is.
    let day_start_s = 1_763_856_000;
    let first_s = points[0].0 / 1000;
    let since_s = first_s - first_s % 300;
    assert_eq!(
        day["missing_s"].as_u64().unwrap(),
        86_400 - (since_s - day_start_s) - covered_s,
        "a past day: all else since the first data is missing"
    );

    let (_, month) = server
        .get("/api/v1/devices/D1/energy?period=month&at=2025-11&tz=UTC")
        .await;
    assert_eq!(month["buckets"].as_array().unwrap().len(), 30);
    assert!((month["buckets"][22]["energy_wh"].as_f64().unwrap() - wh).abs() < 1e-9);
    assert_eq!(month["buckets"][21]["energy_wh"], 0.0);
    let (_, year) = server
        .get("/api/v1/devices/D1/energy?period=year&at=2025")
        .await;
    assert_eq!(year["buckets"].as_array().unwrap().len(), 12);
    assert!((year["total_wh"].as_f64().unwrap() - wh).abs() < 1e-9);
    // Another time zone moves the day's edges.
    let (status, tokyo) = server
        .get("/api/v1/devices/D1/energy?period=day&at=2025-11-23&tz=Asia/Tokyo")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(tokyo["timezone"], "Asia/Tokyo");
    for query in ["period=week", "period=day&at=2025-13-01", "tz=Nowhere/Else"] {
        assert_eq!(
            server
                .get(&format!("/api/v1/devices/D1/energy?{query}"))
                .await
                .0,
            StatusCode::BAD_REQUEST,
            "{query}"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn stats_count_uploads_codecs_and_rejections() {
    let server = Server::start(&[]).await;
    let mut device = server.add_device("D1");
    upload(&server, &mut device, "D1", &[0, 1, 2]).await;
    // A replay of the first upload's nonce is refused and counted.
    let mut replayed = server.add_device("D2");
    let (_, old) = next_upload(&mut replayed, 0);
    let (_, new) = next_upload(&mut replayed, 1);
    assert_eq!(server.post("/aggregated/D2", new).await.0, StatusCode::OK);
    assert_eq!(
        server.post("/aggregated/D2", old).await.0,
        StatusCode::CONFLICT
    );

    let (status, stats) = server.get("/api/v1/stats").await;
    assert_eq!(status, StatusCode::OK, "{stats}");
    assert_eq!(stats["uploads"], 4);
    assert_eq!(stats["samples"], 12);
    assert_eq!(stats["devices"]["total"], 2);
    assert_eq!(stats["devices"]["by_status"]["online"], 2);
    assert_eq!(stats["uploads_per_minute"], 4.0 / 5.0);
    assert_eq!(stats["rejected_since_start"]["replay"], 1);
    let codecs = stats["codecs"].as_array().unwrap();
    assert_eq!(
        codecs
            .iter()
            .map(|c| c["packets"].as_u64().unwrap())
            .sum::<u64>(),
        4
    );
    assert!(stats["compression_ratio"].as_f64().unwrap() > 0.0);

    let (_, d2) = server.get("/api/v1/devices/D2/stats").await;
    assert_eq!(d2["uploads"], 1);
    assert_eq!(d2["rejected_since_start"]["replay"], 1);
    assert!(d2["last_seen_ms"].as_u64().is_some());
    assert_eq!(
        server.get("/api/v1/devices/D9/stats").await.0,
        StatusCode::NOT_FOUND
    );
    server.stop().await;
}

#[tokio::test]
async fn the_fleet_lists_filters_pages_updates_and_deletes() {
    let server = Server::start(&[]).await;
    let mut d1 = server.add_device("D1");
    server.add_device("D2");
    let points = upload(&server, &mut d1, "D1", &[0, 1]).await;

    let (status, fleet) = server.get("/api/v1/devices").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fleet["total"], 2);
    let first = &fleet["devices"][0];
    assert_eq!(
        (first["device_id"].as_str(), first["status"].as_str()),
        (Some("D1"), Some("online"))
    );
    assert_eq!(first["power_w"].as_f64(), Some(points.last().unwrap().1));
    assert_eq!(first["offline_after_s"], 45);
    assert_eq!(fleet["devices"][1]["status"], "never");
    assert_eq!(
        server.get("/api/v1/devices?status=never").await.1["devices"][0]["device_id"],
        "D2"
    );
    assert_eq!(
        server.get("/api/v1/devices?status=offline").await.1["total"],
        0
    );
    let page = server.get("/api/v1/devices?limit=1&offset=1").await.1;
    assert_eq!(
        (
            page["total"].as_u64(),
            page["devices"].as_array().unwrap().len()
        ),
        (Some(2), 1)
    );
    assert_eq!(page["devices"][0]["device_id"], "D2");
    assert_eq!(
        server.get("/api/v1/devices?status=sleepy").await.0,
        StatusCode::BAD_REQUEST
    );

    // Update: name, location, upload period; the search finds the name.
    let r = server
        .client
        .patch(format!("{}/api/v1/devices/D1", server.url))
        .json(&json!({ "name": "Roof east", "location": "Lisbon", "upload_interval_s": 60 }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let updated: Value = r.json().await.unwrap();
    assert_eq!(
        (
            updated["name"].as_str(),
            updated["upload_interval_s"].as_u64()
        ),
        (Some("Roof east"), Some(60))
    );
    let found = server.get("/api/v1/devices?q=roof").await.1;
    assert_eq!(
        (
            found["total"].as_u64(),
            found["devices"][0]["offline_after_s"].as_u64()
        ),
        (Some(1), Some(180))
    );
    let r = server
        .client
        .patch(format!("{}/api/v1/devices/D1", server.url))
        .json(&json!({ "colour": "red" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    // Delete keeping the data: uploads are refused, the history stays.
    let r = server
        .client
        .delete(format!("{}/api/v1/devices/D1?keep_data=true", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let (_, body) = next_upload(&mut d1, 2);
    assert_eq!(
        server.post("/aggregated/D1", body).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        server.get("/api/v1/devices?status=retired").await.1["devices"][0]["device_id"],
        "D1"
    );
    let (_, series) = server
        .get(&format!(
            "/api/v1/devices/D1/series?from={}&to={}&step=1m",
            points[0].0,
            points[5].0 + 1
        ))
        .await;
    assert!(
        series["points"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["count"].as_u64() > Some(0))
    );
    // Delete purging: gone.
    let r = server
        .client
        .delete(format!("{}/api/v1/devices/D1", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(server.count("samples"), 0);
    assert_eq!(server.get("/api/v1/devices").await.1["total"], 1);
    server.stop().await;
}

#[tokio::test]
async fn retention_rolls_old_samples_into_aggregates() {
    // The test data is a year old: with one day of raw retention it is rolled up.
    let server = Server::start(&["--retention-days", "0", "--device-rate", "0"]).await;
    let mut device = server.add_device("D1");
    let cycles: Vec<u64> = (0..40).collect();
    let points = upload(&server, &mut device, "D1", &cycles).await;
    let (from, to) = (
        points[0].0 - points[0].0 % 300_000,
        points.last().unwrap().0 + 1,
    );
    let before_series = server
        .get(&format!(
            "/api/v1/devices/D1/series?from={from}&to={to}&step=5m&agg=max"
        ))
        .await
        .1;
    let before_energy = server
        .get("/api/v1/devices/D1/energy?period=day&at=2025-11-23")
        .await
        .1;
    let dir = server.stop().await;

    let server = Server::start_in(
        dir,
        &[
            "--retention-days",
            "1",
            "--retention-interval",
            "1s",
            "--device-rate",
            "0",
        ],
    )
    .await;
    for _ in 0..300 {
        if server.count("samples") == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        server.count("samples"),
        0,
        "raw samples older than a day are deleted"
    );
    assert_eq!(
        server.count("uploads"),
        40,
        "upload bodies received today are kept"
    );
    assert!(server.count("aggregates_5m") > 0);
    let after_series = server
        .get(&format!(
            "/api/v1/devices/D1/series?from={from}&to={to}&step=5m&agg=max"
        ))
        .await
        .1;
    assert_eq!(
        after_series["points"], before_series["points"],
        "5-minute series survive retention"
    );
    let after_energy = server
        .get("/api/v1/devices/D1/energy?period=day&at=2025-11-23")
        .await
        .1;
    let (a, b) = (
        after_energy["total_wh"].as_f64().unwrap(),
        before_energy["total_wh"].as_f64().unwrap(),
    );
    assert!((a - b).abs() < 1e-6, "{a} vs {b}");
    assert_eq!(after_energy["missing_s"], before_energy["missing_s"]);
    server.stop().await;
}
