//! External weather and the comparison with it, against a fake
//! OpenWeather-compatible API that the test starts on loopback.

mod common;

use std::sync::{Arc, Mutex};

use common::{Server, next_upload};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// 2025-11-23 08:00 UTC: the test uploads' first sample.
const OBSERVED_S: u64 = 1_763_884_800;

/// The provider's answer for `city` (`None`: 404), clear or overcast.
fn current(city: &str) -> Option<Value> {
    let clouds = match city {
        "Clearville" => 0,
        "Greyton" => 100,
        "Thirdtown" => 50,
        _ => return None,
    };
    // On the equator at 60° E the sun is near its highest at 08:00 UTC.
    Some(json!({
        "coord": {"lat": 0.0, "lon": 60.0},
        "main": {"temp": 20.0, "humidity": 70.0, "pressure": 1013.0},
        "weather": [{"description": if clouds == 0 { "clear sky" } else { "overcast clouds" }}],
        "clouds": {"all": clouds},
        "dt": OBSERVED_S,
        "name": city,
    }))
}

/// A fake provider on 127.0.0.1:0: its URL and the request lines it got.
async fn provider() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut head = vec![0u8; 8192];
            let n = socket.read(&mut head).await.unwrap();
            let line = String::from_utf8_lossy(&head[..n])
                .lines()
                .next()
                .unwrap_or("")
                .to_owned();
            log.lock().unwrap().push(line.clone());
            let city = line
                .split(['?', '&', ' '])
                .find_map(|p| p.strip_prefix("q="))
                .unwrap_or("")
                .to_owned();
            let (status, body) = match current(&city) {
                Some(body) => ("200 OK", body.to_string()),
                None => (
                    "404 Not Found",
                    json!({"cod": "404", "message": "city not found"}).to_string(),
                ),
            };
            let answer = format!(
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(answer.as_bytes()).await;
        }
    });
    (url, seen)
}

#[tokio::test]
async fn the_weather_predicts_output_and_low_output_raises_an_alert() {
    let (url, seen) = provider().await;
    let server = Server::start(&[
        "--device-rate",
        "0",
        "--weather-url",
        &url,
        "--weather-api-key",
        "k3y",
        "--weather-capacity-w",
        "10000",
        "--weather-rate",
        "2",
    ])
    .await;
    let mut device = server.add_device("D1");
    for cycle in 0..4 {
        let (_, body) = next_upload(&mut device, cycle);
        assert_eq!(server.post("/aggregated/D1", body).await.0, StatusCode::OK);
    }

    let (status, weather) = server
        .get("/api/v1/sensors/external/weather?city=Clearville")
        .await;
    assert_eq!(status, StatusCode::OK, "{weather}");
    assert_eq!(
        (weather["city"].as_str(), weather["temperature"].as_f64()),
        (Some("Clearville"), Some(20.0))
    );
    assert!(weather["irradiance_wm2"].as_f64().unwrap() > 900.0);
    assert!(!weather.to_string().contains("k3y"));

    // Clear sky: ~9 kW predicted, ~1.2 kW measured: an alert.
    let (status, clear) = server
        .get("/api/v1/sensors/compare/weather?city=Clearville")
        .await;
    assert_eq!(status, StatusCode::OK, "{clear}");
    let d1 = &clear["comparison"]["devices"][0];
    assert!(d1["predicted_w"].as_f64().unwrap() > 8000.0, "{d1}");
    assert!(d1["ratio"].as_f64().unwrap() < 0.5);
    assert_eq!(
        clear["sensor_data"]["D1"]["power"]["value"],
        d1["measured_w"]
    );
    let alerts = clear["comparison"]["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 1);
    assert_eq!(
        (alerts[0]["type"].as_str(), alerts[0]["device_id"].as_str()),
        (Some("output_below_prediction"), Some("D1"))
    );
    // Cached: the provider was asked once for both answers.
    assert_eq!(seen.lock().unwrap().len(), 1);
    assert!(seen.lock().unwrap()[0].contains("appid=k3y"));

    // Overcast: the same output is what the weather allows.
    let (_, grey) = server
        .get("/api/v1/sensors/compare/weather?city=Greyton&device=D1")
        .await;
    assert!(
        grey["comparison"]["devices"][0]["ratio"].as_f64().unwrap() >= 0.5,
        "{grey}"
    );
    assert_eq!(grey["comparison"]["alerts"], json!([]));

    // Past the provider's rate (2 a minute) with nothing cached: 429.
    let (status, body) = server
        .get("/api/v1/sensors/compare/weather?city=Thirdtown")
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("rate_limited"))
    );
    assert_eq!(seen.lock().unwrap().len(), 2);
    // Cached cities still answer.
    assert_eq!(
        server
            .get("/api/v1/sensors/external/weather?city=Greyton")
            .await
            .0,
        StatusCode::OK
    );

    for (path, status, code) in [
        (
            "/api/v1/sensors/external/weather?city=%3Cscript%3E",
            400,
            "bad_city",
        ),
        (
            "/api/v1/sensors/compare/weather?city=Clearville&device=NOPE",
            404,
            "unknown_device",
        ),
    ] {
        let (got, body) = server.get(path).await;
        assert_eq!(
            (got.as_u16(), body["error"].as_str()),
            (status, Some(code)),
            "{path}"
        );
    }
}

#[tokio::test]
async fn unknown_cities_and_no_provider_are_errors() {
    let (url, _) = provider().await;
    let server = Server::start(&["--weather-url", &url, "--weather-api-key", "k"]).await;
    let (status, body) = server
        .get("/api/v1/sensors/external/weather?city=Atlantis")
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("unknown_city"))
    );
    let off = Server::start(&[]).await;
    let (status, body) = off.get("/api/v1/sensors/compare/weather").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("weather_off"))
    );
}
