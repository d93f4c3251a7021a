//! Seatline central server: accounts (tenants, teams, users, bearer tokens), authorization,
//! and the customer master, over an embedded SQLite file or a shared PostgreSQL.
//!
//! Work-order sync comes in a later slice (see `authz::TeamVisibility` for the rule it will
//! use).

pub mod accounts;
pub mod api;
pub mod authz;
pub mod customers;
pub mod error;
pub mod store;

pub use error::{Error, Result};
pub use store::{Backend, Store};
