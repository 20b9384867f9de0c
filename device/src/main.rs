//! The device loop on solarwire's core: sample → encode (codec v2) → seal
//! (envelope v2) → bytes to send, with neither `std` nor `alloc` in the
//! loop ([`uplink`]).
//!
//! - On a host, `cargo run -p solarwire-device` runs three upload cycles of
//!   ten simulated samples and prints each envelope in hex, as a device would
//!   send it (`POST /aggregated/{id}`, `application/octet-stream`), with the
//!   host's clock and random IVs.
//! - For the ESP32-C3, `just check-device` builds the same loop for
//!   `riscv32imc-unknown-none-elf` and reports its code size and stack. That
//!   build's entry feeds the loop opaque values (`black_box`) in place of the
//!   ADC, the SNTP clock and the hardware random number generator, which are
//!   the firmware's: it exists to measure the core's part.
#![cfg_attr(target_os = "none", no_std, no_main)]

mod uplink;

use uplink::{MAX_ENVELOPE, Uplink};

/// Registers sampled (the firmware's default: Vac1, Iac1, Ipv1, Ipv2, Temp, Pac).
const LAYOUT: [u8; 6] = [0, 1, 5, 6, 7, 9];
/// Samples per upload.
const PER_UPLOAD: u16 = 10;
/// Seconds between samples.
const INTERVAL_S: u32 = 5;

/// One upload cycle: `PER_UPLOAD` samples from `read`, then the sealed
/// envelope in `out`; its length.
fn cycle(
    uplink: &mut Uplink<'_>,
    mut read: impl FnMut(u16) -> [u16; LAYOUT.len()],
    now_ms: u64,
    iv: [u8; 16],
    out: &mut [u8],
) -> Result<usize, uplink::UplinkError> {
    for i in 0..PER_UPLOAD {
        uplink.push(&read(i))?;
    }
    uplink.seal(now_ms, iv, out)
}

#[cfg(not(target_os = "none"))]
#[allow(clippy::print_stdout)] // the example's output is the bytes a device sends
fn main() {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let mut uplink = Uplink::new("ESP32_C3_DEMO", &LAYOUT, 1, &[0x5a; 32], 0, INTERVAL_S);
    let mut out = [0u8; MAX_ENVELOPE];
    for k in 0..3u16 {
        let mut iv = [0u8; 16];
        if let Err(e) = getrandom::fill(&mut iv) {
            eprintln!("no random IV: {e}");
            std::process::exit(1);
        }
        let read = |i: u16| {
            let t = k * PER_UPLOAD + i;
            [2300 + t % 7, 52 + t % 3, 71, 69, 452, 1205 + 3 * t]
        };
        match cycle(
            &mut uplink,
            read,
            now_ms + u64::from(k) * 50_000,
            iv,
            &mut out,
        ) {
            Ok(len) => {
                let bytes = out.get(..len).unwrap_or_default();
                let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
                println!("counter {}: {len} bytes\n{hex}", uplink.counter());
            }
            Err(e) => {
                eprintln!("upload {k} failed: {e:?}");
                std::process::exit(1);
            }
        }
    }
}

#[cfg(target_os = "none")]
mod device {
    use core::hint::black_box;

    use super::{INTERVAL_S, LAYOUT, MAX_ENVELOPE, Uplink, cycle};

    /// The firmware's transmit step (the radio); here the bytes are only
    /// kept from being optimised away.
    fn send(bytes: &[u8]) {
        black_box(bytes);
    }

    /// The firmware's write of the counter to flash before sending (so a
    /// reboot never reuses one); here only kept from being optimised away.
    fn persist(counter: u64) {
        black_box(counter);
    }

    /// The entry of the size-check build: the device loop forever.
    #[unsafe(no_mangle)]
    extern "C" fn _start() -> ! {
        let secret: [u8; 32] = black_box([0x5a; 32]);
        let mut uplink = Uplink::new("ESP32_C3", &LAYOUT, 1, &secret, black_box(0), INTERVAL_S);
        let mut out = [0u8; MAX_ENVELOPE];
        loop {
            let read = |i: u16| black_box([i; LAYOUT.len()]);
            let (now_ms, iv) = (black_box(0u64), black_box([0u8; 16]));
            if let Ok(len) = cycle(&mut uplink, read, now_ms, iv, &mut out) {
                persist(uplink.counter());
                send(out.get(..len).unwrap_or_default());
            }
        }
    }

    #[panic_handler]
    fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
        loop {}
    }
}
