//! Seatline central server: accounts (tenants, teams, users, bearer tokens), authorization,
//! the customer master, and work-order sync (push/pull with exactly-once mutations, list views
//! with SLA state, long polls), the call log and agent state history, over an embedded SQLite file or a shared PostgreSQL.

pub mod accounts;
pub mod api;
pub mod authz;
pub mod call_quality;
pub mod calls;
pub mod clock;
pub mod customers;
pub mod error;
pub mod kb;
pub mod live;
pub mod playbook;
pub mod seed;
pub mod store;
pub mod work_orders;

pub use error::{Error, Result};
pub use store::{Backend, Store};
