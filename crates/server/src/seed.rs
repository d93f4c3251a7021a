//! Demo data for `seatline-server seed`: a tenant, a team, an agent and a supervisor, customers
//! with mainland-China numbers in E.164, and a few work orders pushed through the same sync path
//! desktops use (so they carry server times and appear in every desktop's pull).

use crate::accounts::{self, NewUser};
use crate::api::AppState;
use crate::authz::{Principal, Role};
use crate::customers::{self, CustomerInput};
use crate::{work_orders, Error, Result, Store};
use seatline_sync_protocol::PushRequest;
use seatline_work_orders::{
    Actor, ClientId, Complexity, Hlc, Mutation, MutationBody, NewWorkOrder, NodeId, OrderKind,
    Priority, WorkOrderId,
};
use serde::Serialize;
use time::OffsetDateTime;

/// What the seed created (printed as JSON by the command).
#[derive(Debug, Clone, Serialize)]
pub struct DemoReport {
    pub tenant: String,
    pub users: Vec<String>,
    pub customers: usize,
    pub work_orders: usize,
    /// False when the tenant existed already (nothing was changed).
    pub created: bool,
}

const CUSTOMERS: &[(&str, &str, &str)] = &[
    ("张伟", "+8613800138000", "gold"),
    ("王芳", "+8613912345678", "standard"),
    ("李娜", "+8615012345678", "silver"),
    ("刘洋", "+8618612345678", "vip"),
    ("陈静", "+862161234567", "standard"),
];

/// Creates the demo tenant `tenant` with `admin`, `agent` and `supervisor` (all with
/// `password`); does nothing when the tenant exists already.
pub async fn seed_demo(state: &AppState, tenant: &str, password: &str) -> Result<DemoReport> {
    let store: &Store = &state.store;
    let (tenant_row, _admin) =
        match accounts::bootstrap_tenant(store, tenant, "admin", password).await {
            Ok(created) => created,
            Err(Error::Conflict(_)) => {
                return Ok(DemoReport {
                    tenant: tenant.to_owned(),
                    users: vec![],
                    customers: 0,
                    work_orders: 0,
                    created: false,
                })
            }
            Err(e) => return Err(e),
        };
    let team = accounts::create_team(store, &tenant_row.id, "一线客服").await?;
    let agent = accounts::create_user(
        store,
        &tenant_row.id,
        NewUser {
            username: "agent".into(),
            display_name: Some("李明".into()),
            password: password.into(),
            role: Role::Agent,
            team_ids: vec![team.id.clone()],
        },
    )
    .await?;
    accounts::create_user(
        store,
        &tenant_row.id,
        NewUser {
            username: "supervisor".into(),
            display_name: Some("王主管".into()),
            password: password.into(),
            role: Role::Supervisor,
            team_ids: vec![team.id.clone()],
        },
    )
    .await?;
    for (name, phone, tier) in CUSTOMERS {
        customers::create(
            store,
            &tenant_row.id,
            &CustomerInput {
                name: (*name).into(),
                phones: vec![(*phone).into()],
                tier: Some((*tier).into()),
                ..CustomerInput::default()
            },
        )
        .await?;
    }
    let now = OffsetDateTime::now_utc();
    // (kind, customer, category, title, priority, phone, due time, description): the repair is
    // overdue from the start so the desk's overdue view has something to show; the callback
    // was promised for a fixed time.
    enum DemoDue {
        In(i64),
        At(OffsetDateTime),
    }
    type DemoOrder<'a> = (
        OrderKind,
        &'a str,
        &'a str,
        &'a str,
        Priority,
        &'a str,
        Option<DemoDue>,
        &'a str,
    );
    let orders: [DemoOrder<'_>; 4] = [
        (
            OrderKind::Complaint {
                complexity: Complexity::Ordinary,
            },
            "张伟",
            "账单",
            "账单重复扣费",
            Priority::High,
            "+8613800138000",
            None,
            "客户反映本月宽带费被扣两次，要求退款。",
        ),
        (
            OrderKind::Repair,
            "王芳",
            "宽带故障",
            "光猫红灯，无法上网",
            Priority::Urgent,
            "+8613912345678",
            Some(DemoDue::In(-90)),
            "已远程重启无效，需上门。",
        ),
        (
            OrderKind::Callback,
            "李娜",
            "套餐",
            "回电确认套餐变更",
            Priority::Normal,
            "+8615012345678",
            Some(DemoDue::At(time::macros::datetime!(2026-12-01 10:00 UTC))),
            "",
        ),
        (
            OrderKind::Inquiry,
            "刘洋",
            "资费咨询",
            "咨询国际漫游资费",
            Priority::Low,
            "+8618612345678",
            None,
            "",
        ),
    ];
    let client = ClientId(WorkOrderId::new_v7(now).0);
    let actor = Actor {
        user: agent.id.clone(),
        tenant: tenant_row.id.clone(),
    };
    let physical_ms = u64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
    let mut mutations = Vec::new();
    for (kind, customer, category, title, priority, phone, due_in, description) in orders {
        let order_id = WorkOrderId::new_v7(OffsetDateTime::now_utc());
        let bodies = vec![MutationBody::Create(NewWorkOrder {
            team: team.id.clone(),
            kind,
            customer_id: customer.into(),
            call_id: None,
            category: category.into(),
            priority,
            assignee: Some(agent.id.clone()),
            title: title.into(),
            description: description.into(),
            contact_phone: Some(phone.into()),
            due_at: due_in.map(|due| match due {
                DemoDue::In(minutes) => now + time::Duration::minutes(minutes),
                DemoDue::At(at) => at,
            }),
        })];
        for body in bodies {
            let n = u32::try_from(mutations.len()).unwrap_or(u32::MAX);
            mutations.push(Mutation {
                client_id: client,
                mutation_id: u64::from(n) + 1,
                order_id,
                stamp: Hlc {
                    physical_ms,
                    logical: n,
                    node: NodeId(client.0),
                },
                base_version: 0,
                actor: actor.clone(),
                body,
            });
        }
    }
    let principal = Principal {
        user_id: agent.id.clone(),
        tenant_id: tenant_row.id.clone(),
        username: agent.username.clone(),
        role: Role::Agent,
        token_hash: String::new(),
    };
    let request = PushRequest {
        client_id: client,
        mutations,
    };
    let ack = work_orders::push(store, &state.hub, &state.clock, &principal, &request).await?;
    if !ack.rejected.is_empty() {
        return Err(Error::Internal(format!(
            "the demo orders were refused: {:?}",
            ack.rejected
        )));
    }
    Ok(DemoReport {
        tenant: tenant_row.name,
        users: vec!["admin".into(), "agent".into(), "supervisor".into()],
        customers: CUSTOMERS.len(),
        work_orders: 4,
        created: true,
    })
}
