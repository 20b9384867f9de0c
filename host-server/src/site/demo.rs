//! The demo site `solarwire site demo` prints: 2 BESS × 12 racks, 2 PCS,
//! a grid and an auxiliary meter, 2 PV inverters.

use super::{Bess, Inverter, Meter, MeterRole, Pcs, Site};

/// Racks per demo BESS.
const RACKS: u8 = 12;

/// The demo site.
pub fn demo() -> Site {
    Site {
        name: "Demo storage plant".into(),
        cctv_url: None,
        bess: (1..=2)
            .map(|n| Bess {
                number: n,
                capacity_kwh: 5000.0,
                nominal_power_kw: 2500.0,
                racks: (1..=RACKS).map(|r| format!("bess{n}-rack{r:02}")).collect(),
            })
            .collect(),
        pcs: (1..=2)
            .map(|n| Pcs {
                number: n,
                device: format!("pcs{n}"),
                bess: n,
                nominal_power_kw: 2500.0,
            })
            .collect(),
        meters: vec![
            Meter {
                number: 1,
                device: "meter-grid".into(),
                role: MeterRole::Grid,
            },
            Meter {
                number: 2,
                device: "meter-aux".into(),
                role: MeterRole::Aux,
            },
        ],
        inverters: (1..=2)
            .map(|n| Inverter {
                number: n,
                device: format!("inverter{n}"),
                nominal_power_kw: 500.0,
            })
            .collect(),
    }
}
