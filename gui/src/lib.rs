//! Kexue Lab: a desktop lab that lets a person *see* each algorithm of
//! `kexue-core` behave, plus headless command-line subcommands.
//!
//! The crate is a library (so the GUI tests can drive the panels) and the
//! binary `kexue-lab` (`src/main.rs`). Data flows one way: GUI / CLI → core;
//! no algorithm lives here.

pub mod app;
pub mod cli;
pub mod jobs;
pub mod panels;
