pub mod dtmf;
pub mod g711;
pub mod jitter;
pub mod opus;
pub mod rtp;
pub mod session;
pub mod wav;
