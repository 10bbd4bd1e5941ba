//! wip
pub mod rules;
#[cfg(test)]
mod testing;
mod util;
