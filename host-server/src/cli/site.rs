//! `solarwire site …`: storage-plant site files (`serve --site FILE`).

use std::path::PathBuf;

use clap::Subcommand;

use super::say;
use crate::site::{self, Site};

/// Site commands.
#[derive(Debug, Subcommand)]
pub enum SiteCommand {
    /// Print a demo site (2 BESS × 12 racks, 2 PCS, 2 meters, 2 inverters)
    /// to start from: `solarwire site demo > site.toml`.
    Demo,
    /// Check a site file and list its units.
    Check {
        /// The site file (TOML).
        file: PathBuf,
    },
}

/// Runs a site command.
///
/// # Errors
/// A site file that cannot be read or is not valid, with the reason.
pub(super) fn run(cmd: SiteCommand) -> Result<(), String> {
    match cmd {
        SiteCommand::Demo => {
            say(format_args!("{}", site::demo().to_toml().trim_end()));
            Ok(())
        }
        SiteCommand::Check { file } => {
            let site = Site::load(&file).map_err(|e| e.to_string())?;
            let racks: usize = site.bess.iter().map(|b| b.racks.len()).sum();
            say(format_args!(
                "{}: {} BESS ({racks} racks), {} PCS, {} meters, {} inverters, {} devices",
                site.name,
                site.bess.len(),
                site.pcs.len(),
                site.meters.len(),
                site.inverters.len(),
                site.devices().count()
            ));
            Ok(())
        }
    }
}
