use std::process::ExitCode;

use clap::Parser;
use rampdeck::cli::{Cli, Cmd};

fn main() -> ExitCode {
    if let Err(e) = color_eyre::install() {
        eprintln!("rampdeck: could not install the error reporter: {e}");
    }
    let cli = Cli::parse();
    match cli.command {
        Cmd::Demo { .. } => {
            eprintln!("rampdeck demo: not built yet (issue 3). Nothing was run.");
            ExitCode::from(1)
        }
        other => {
            eprintln!("rampdeck: {other:?} is not built yet.");
            ExitCode::from(1)
        }
    }
}
