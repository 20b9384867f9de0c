//! What the weather predicts a PV system produces: the sun's position
//! (NOAA's fractional-year approximation), clear-sky irradiance (Haurwitz),
//! cloud attenuation (Kasten–Czeplak) and a cell-temperature derating.
//! Pure functions; the time is passed in.

use std::f64::consts::PI;

use jiff::Timestamp;
use jiff::tz::TimeZone;

/// The cosine of the sun's zenith angle at `lat`/`lon` (degrees) and Unix second `t_s`.
pub fn cos_zenith(lat: f64, lon: f64, t_s: i64) -> f64 {
    let Ok(t) = Timestamp::from_second(t_s) else {
        return 0.0;
    };
    let utc = t.to_zoned(TimeZone::UTC);
    let hours =
        f64::from(utc.hour()) + f64::from(utc.minute()) / 60.0 + f64::from(utc.second()) / 3600.0;
    let gamma = 2.0 * PI / 365.0 * (f64::from(utc.day_of_year()) - 1.0 + (hours - 12.0) / 24.0);
    let eqtime = 229.18
        * (0.000_075 + 0.001_868 * gamma.cos()
            - 0.032_077 * gamma.sin()
            - 0.014_615 * (2.0 * gamma).cos()
            - 0.040_849 * (2.0 * gamma).sin());
    let decl = 0.006_918 - 0.399_912 * gamma.cos() + 0.070_257 * gamma.sin()
        - 0.006_758 * (2.0 * gamma).cos()
        + 0.000_907 * (2.0 * gamma).sin()
        - 0.002_697 * (3.0 * gamma).cos()
        + 0.001_48 * (3.0 * gamma).sin();
    let solar_minutes = hours * 60.0 + eqtime + 4.0 * lon;
    let hour_angle = (solar_minutes / 4.0 - 180.0).to_radians();
    let lat = lat.to_radians();
    lat.sin() * decl.sin() + lat.cos() * decl.cos() * hour_angle.cos()
}

/// Global horizontal irradiance, W/m², under `clouds` (0 to 1 of the sky).
pub fn irradiance(cos_zenith: f64, clouds: f64) -> f64 {
    if cos_zenith <= 0.0 {
        return 0.0;
    }
    let clear = 1098.0 * cos_zenith * (-0.057 / cos_zenith).exp();
    clear * (1.0 - 0.75 * clouds.clamp(0.0, 1.0).powf(3.4))
}

/// Power a system rated `capacity_w` (at 1000 W/m², 25 °C cells) makes in
/// `irradiance` at air temperature `air_c`: −0.4 %/°C of cell temperature
/// above 25 °C, the cells `irradiance / 800 × 20` °C above the air.
pub fn predicted_power(capacity_w: f64, irradiance: f64, air_c: f64) -> f64 {
    let cell_c = air_c + irradiance / 800.0 * 20.0;
    let derate = 1.0 - 0.004 * (cell_c - 25.0).max(0.0);
    (capacity_w * irradiance / 1000.0 * derate).max(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sun_is_high_at_noon_and_down_at_midnight() {
        // 2025-06-21 12:00 UTC on the prime meridian at the Tropic of Cancer.
        let noon = 1_750_507_200;
        assert!(cos_zenith(23.44, 0.0, noon) > 0.99);
        assert!(cos_zenith(23.44, 0.0, noon + 12 * 3600) < 0.0);
        // 60° east, solar noon is four hours earlier.
        assert!(cos_zenith(0.0, 60.0, noon - 4 * 3600) > 0.9);
    }

    #[test]
    fn clouds_and_heat_lower_the_prediction() {
        let clear = irradiance(1.0, 0.0);
        assert!((1000.0..1100.0).contains(&clear));
        assert!(irradiance(1.0, 1.0) < 0.3 * clear);
        assert_eq!(irradiance(-0.1, 0.0), 0.0);
        let cool = predicted_power(5000.0, 1000.0, 0.0);
        assert!(predicted_power(5000.0, 1000.0, 35.0) < cool);
        assert_eq!(predicted_power(5000.0, 0.0, 20.0), 0.0);
    }
}
