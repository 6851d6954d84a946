//! The `rangsi` binary: command line entry point.
//!
//! `serve` runs the archive (DICOMweb + DIMSE); the other commands administer a data
//! directory (hospitals, users, AE titles, tokens), import media and check consistency.
//! They all open the same data directory, so they work while `serve` runs.

mod cli;
mod config;
mod dicom;
mod dimse;
mod gateway;
mod import;
mod index;
mod ops;
mod service;
mod store;
mod web;

use clap::Parser;

fn main() -> anyhow::Result<()> {
    let cli = cli::Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("rangsi")
        .build()?;
    runtime.block_on(cli::run(cli))
}
