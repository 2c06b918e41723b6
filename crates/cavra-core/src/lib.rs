//! CAVRA decision engine.
//!
//! A pure library: an [`ActionRequest`] (who acts, what action, on which resource, in which
//! repository, under which policy pack and mode) is evaluated against a [`CompiledPack`] and
//! yields a [`Decision`]. No file, socket, clock or environment access happens here; the
//! caller supplies everything (including the time taken, if it wants it recorded).
//!
//! Precedence, written down once and pinned by tests: `block` > `require_approval` >
//! `allow` > the pack's default. An evaluation error is a block.
//!
//! Requests and packs are adversarial input: arithmetic is checked or saturating and indexing
//! goes through `.get()` (both lints are denied; tests may allow them).
#![deny(clippy::arithmetic_side_effects, clippy::indexing_slicing)]
#![cfg_attr(test, allow(clippy::arithmetic_side_effects, clippy::indexing_slicing))]

pub mod canon;
pub mod duration;
pub mod glob;
pub mod guard;
pub mod hooks;
pub mod model;
pub mod paths;
pub mod policy;
pub mod text;

pub use model::*;

/// The element at `i` of a scanned buffer (bytes, chars, flags), or the default (`0`,
/// `'\0'`, `false`) past its end: scanners read through this instead of indexing.
#[inline]
pub(crate) fn at<T: Copy + Default>(s: &[T], i: usize) -> T {
    s.get(i).copied().unwrap_or_default()
}
pub use policy::{CompiledPack, PolicyError};
