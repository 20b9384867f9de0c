//! `solarwire client …`: signed API clients for the cloud API
//! (`GET /comm/client`). A new client's secret is printed once.

use std::path::Path;

use clap::Subcommand;

use super::{open_store, runtime, say};
use crate::auth::clients::{CreateError, MAX_NAME, create};

/// Client commands.
#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Create a client; prints its id and secret (shown once).
    Add {
        /// What it is for (1 to 128 bytes).
        name: String,
        /// Print `{"client_id", "client_secret", "name"}` as JSON (scripts).
        #[arg(long)]
        json: bool,
    },
    /// List clients (never their secrets).
    List,
    /// Revoke a client: its tokens stop working at once.
    Revoke {
        /// The client id (`swc_…`).
        client_id: String,
    },
}

/// Runs one client command.
pub(super) fn run(data_dir: &Path, cmd: ClientCommand) -> Result<(), String> {
    runtime()?.block_on(run_with(data_dir, cmd))
}

async fn run_with(data_dir: &Path, cmd: ClientCommand) -> Result<(), String> {
    let store = open_store(data_dir)?;
    match cmd {
        ClientCommand::Add { name, json } => {
            let created = create(store.as_ref(), &name, "cli")
                .await
                .map_err(|e| match e {
                    CreateError::BadName => format!("a client name is 1 to {MAX_NAME} bytes"),
                    CreateError::Failed(message) => message,
                })?;
            let client_id = created.client.client_id;
            if json {
                let body = serde_json::json!({
                    "client_id": client_id,
                    "client_secret": created.secret,
                    "name": created.client.name,
                });
                say(format_args!("{body}"));
            } else {
                say(format_args!("client_id     {client_id}"));
                say(format_args!("client_secret {}", created.secret));
                say(format_args!(
                    "the secret is shown once; keep it with the client id"
                ));
            }
        }
        ClientCommand::List => {
            say(format_args!(
                "{:<36} {:<24} {:<14} REVOKED",
                "CLIENT ID", "NAME", "CREATED (ms)"
            ));
            for c in store.clients().await.map_err(|e| e.to_string())? {
                let revoked = c
                    .revoked_ms
                    .map_or_else(|| "-".to_owned(), |t| t.to_string());
                say(format_args!(
                    "{:<36} {:<24} {:<14} {revoked}",
                    c.client_id, c.name, c.created_ms
                ));
            }
        }
        ClientCommand::Revoke { client_id } => {
            if !store
                .revoke_client(&client_id)
                .await
                .map_err(|e| e.to_string())?
            {
                return Err(format!("no active client {client_id}"));
            }
            say(format_args!("revoked client {client_id}"));
        }
    }
    Ok(())
}
