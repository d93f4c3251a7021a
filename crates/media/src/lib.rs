pub mod g711;
pub mod opus;
pub mod rtp;
