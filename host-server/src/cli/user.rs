//! `solarwire user …`: accounts for the dashboard and the API. The first
//! admin is made here; there is no built-in account or default password.

use std::io::{BufRead as _, Read as _};
use std::path::Path;

use clap::Subcommand;

use super::{open_store, runtime, say};
use crate::auth::{check_user_name, password};
use crate::store::access::Role;

/// User commands.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user (asks for the password without echo).
    Add {
        /// Login name: 1–64 characters of A-Z a-z 0-9 _ . @ -
        name: String,
        /// `admin` (everything) or `viewer` (read only).
        #[arg(long, default_value = "viewer")]
        role: String,
        /// Read the password from the first line of standard input (scripts).
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users.
    List,
    /// Set a new password (ends the user's sessions).
    Passwd {
        /// Login name.
        name: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Delete a user and end their sessions.
    Remove {
        /// Login name.
        name: String,
    },
}

/// Runs one user command.
pub(super) fn run(data_dir: &Path, cmd: UserCommand) -> Result<(), String> {
    runtime()?.block_on(run_with(data_dir, cmd))
}

async fn run_with(data_dir: &Path, cmd: UserCommand) -> Result<(), String> {
    let store = open_store(data_dir)?;
    match cmd {
        UserCommand::Add {
            name,
            role,
            password_stdin,
        } => {
            check_user_name(&name)?;
            let role = Role::parse(&role).ok_or("--role is admin or viewer")?;
            let hash = password::hash_blocking(&read_password(&name, password_stdin)?)?;
            store
                .add_user(&name, role, hash)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("user {name} already exists"))?;
            say(format_args!("added {} {name}", role.as_str()));
        }
        UserCommand::List => {
            say(format_args!(
                "{:<32} {:<7} CREATED (Unix ms)",
                "NAME", "ROLE"
            ));
            for u in store.users().await.map_err(|e| e.to_string())? {
                say(format_args!(
                    "{:<32} {:<7} {}",
                    u.name,
                    u.role.as_str(),
                    u.created_ms
                ));
            }
        }
        UserCommand::Passwd {
            name,
            password_stdin,
        } => {
            let hash = password::hash_blocking(&read_password(&name, password_stdin)?)?;
            if !store
                .set_password(&name, hash)
                .await
                .map_err(|e| e.to_string())?
            {
                return Err(format!("no user {name}"));
            }
            say(format_args!(
                "new password set for {name}; their sessions ended"
            ));
        }
        UserCommand::Remove { name } => {
            if !store.remove_user(&name).await.map_err(|e| e.to_string())? {
                return Err(format!("no user {name}"));
            }
            say(format_args!("removed user {name}"));
        }
    }
    Ok(())
}

fn read_password(name: &str, from_stdin: bool) -> Result<String, String> {
    let password = if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .take(password::MAX_LEN as u64 + 2)
            .read_line(&mut line)
            .map_err(|e| format!("cannot read the password: {e}"))?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    } else {
        let first = rpassword::prompt_password(format!("Password for {name}: "))
            .map_err(|e| format!("cannot read the password: {e}"))?;
        let again = rpassword::prompt_password("Again: ")
            .map_err(|e| format!("cannot read the password: {e}"))?;
        if first != again {
            return Err("the passwords differ".into());
        }
        first
    };
    password::check(&password)?;
    Ok(password)
}
