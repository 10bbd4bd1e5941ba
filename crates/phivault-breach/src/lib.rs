//! wip
mod access;
pub mod affected;
pub mod drill;
pub mod evidence;
pub mod incident;
pub mod lockdown;
pub mod report;
pub mod rules;
#[cfg(test)]
mod testing;
mod util;
pub mod webhook;
