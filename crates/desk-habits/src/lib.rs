//! The habits of a phone on the desk, kept free of Tauri so they are tested as plain functions:
//! [`link`] turns a `tel:`/`sip:`/`sips:` link (or a second launch's arguments) into a target
//! the phone dials, [`notify`] decides which events show a desktop notification and [`tray`]
//! says what the tray icon shows and offers.

pub mod link;
pub mod notify;
pub mod tray;

pub use link::{
    dial_link_in_args, link_argument, parse_dial_link, DialLink, LinkError, LinkScheme,
};
pub use notify::{
    decide, minutes_until, DeskEvent, Notice, NoticeAction, NoticeKind, NotifyPrefs, SyncHealth,
};
pub use tray::{
    menu_entries, parse_menu_id, reason_labels, reason_text, state_text, tooltip, MenuEntry,
    ReasonLabels, TrayCommand,
};
