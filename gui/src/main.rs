//! `kexue-lab`: with no arguments opens the lab window; with a subcommand runs
//! headless (see `kexue-lab --help`).

use std::process::ExitCode;

use clap::Parser;
use kexue_gui::cli::{Cli, run_command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(command) => match run_command(command) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("kexue-lab: {err}");
                ExitCode::FAILURE
            }
        },
        None => match kexue_gui::app::run_window() {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("kexue-lab: {err}");
                ExitCode::FAILURE
            }
        },
    }
}
