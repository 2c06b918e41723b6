//! CAVRA decision engine.
//!
//! A pure library: an [`ActionRequest`] (who acts, what action, on which resource, in which
//! repository, under which policy pack and mode) is evaluated against a [`CompiledPack`] and
//! yields a [`Decision`]. No file, socket, clock or environment access happens here; the
//! caller supplies everything (including the time taken, if it wants it recorded).
//!
//! Precedence, written down once and pinned by tests: `block` > `require_approval` >
//! `allow` > the pack's default. An evaluation error is a block.

pub mod duration;
pub mod glob;
pub mod guard;
pub mod hooks;
pub mod model;
pub mod paths;
pub mod policy;

pub use model::*;
pub use policy::{CompiledPack, PolicyError};
