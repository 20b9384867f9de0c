//! The `solarwire` binary: see `solarwire --help`.

fn main() -> std::process::ExitCode {
    solarwire_server::cli::main()
}
