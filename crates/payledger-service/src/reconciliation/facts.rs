//! The ledger's side: the payments, refunds and disputes report lines name, and the facts no
//! line settles. Read from the live read-models; refunds and disputes count as of their
//! creation day, captures as of their first capture.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use payledger_core::payment::Provider;
use payledger_core::reconciliation::{FactAmounts, FactKind};
use payledger_core::Currency;
use tokio_postgres::{GenericClient, Row};
use uuid::Uuid;

use super::lines::ReportLine;
use super::{LedgerSide, Period};
use crate::error::{ServiceError, ServiceResult};

/// A payment's captures, a refund or a dispute.
#[derive(Debug, Clone)]
pub(super) struct Fact {
    pub kind: FactKind,
    pub provider: Provider,
    pub payment_id: Uuid,
    pub child_id: Option<Uuid>,
    pub provider_reference: Option<String>,
    /// The payment's reference (a dispute line may name only the payment).
    pub payment_reference: Option<String>,
    pub currency: Currency,
    pub amounts: FactAmounts,
    pub event_position: Option<i64>,
}

impl Fact {
    pub fn side(&self) -> LedgerSide {
        LedgerSide {
            kind: self.kind,
            payment_id: self.payment_id,
            refund_id: self.child_id.filter(|_| self.kind == FactKind::Refund),
            dispute_id: self.child_id.filter(|_| self.kind == FactKind::Dispute),
            provider_reference: self.provider_reference.clone(),
            event_position: self.event_position,
        }
    }

    /// The (provider, line kind, reference) of any line that would settle this fact.
    pub fn settling_references(&self) -> Vec<(Provider, &'static str, &String)> {
        let kind = match self.kind {
            FactKind::Capture => "charge",
            FactKind::Refund => "refund",
            FactKind::Dispute => "dispute",
        };
        let mut refs: Vec<&String> = self.provider_reference.iter().collect();
        if self.kind == FactKind::Dispute {
            refs.extend(self.payment_reference.iter());
        }
        refs.into_iter().map(|r| (self.provider, kind, r)).collect()
    }

    /// The fact's money with a report line's sign (captures in, refunds and chargebacks out).
    pub fn signed_amount(&self) -> i64 {
        match self.kind {
            FactKind::Capture => self.amounts.captured_minor,
            FactKind::Refund => -self.amounts.refunded_minor,
            FactKind::Dispute => -self.amounts.disputed_minor,
        }
    }
}

type Key = (Provider, String);

/// The facts the lines of a period name, by the references the ledger holds.
#[derive(Debug, Default)]
pub(super) struct LedgerFacts {
    payments: HashMap<Key, Fact>,
    refunds: HashMap<Key, Fact>,
    disputes: HashMap<Key, Fact>,
    disputes_of_payment: HashMap<Uuid, Fact>,
}

impl LedgerFacts {
    pub async fn for_lines<C: GenericClient>(
        client: &C,
        schema: &str,
        tenant_id: Uuid,
        lines: &[ReportLine],
    ) -> ServiceResult<LedgerFacts> {
        let payment_refs: Vec<&str> = lines.iter().flat_map(ReportLine::payment_references).collect();
        let child_refs: Vec<&str> = lines.iter().flat_map(ReportLine::modification_references).collect();
        let mut facts = LedgerFacts::default();
        for fact in captures(client, schema, tenant_id, &payment_refs).await? {
            if let Some(reference) = fact.provider_reference.clone() {
                facts.payments.insert((fact.provider, reference), fact);
            }
        }
        for fact in refunds(client, schema, tenant_id, &child_refs).await? {
            if let Some(reference) = fact.provider_reference.clone() {
                facts.refunds.insert((fact.provider, reference), fact);
            }
        }
        let payment_ids: Vec<Uuid> = facts.payments.values().map(|f| f.payment_id).collect();
        for fact in disputes(client, schema, tenant_id, &child_refs, &payment_ids).await? {
            if let Some(reference) = fact.provider_reference.clone() {
                facts.disputes.insert((fact.provider, reference), fact.clone());
            }
            facts.disputes_of_payment.entry(fact.payment_id).or_insert(fact);
        }
        Ok(facts)
    }

    /// The fact a charge, refund, chargeback or reversal line settles, if the ledger has it.
    pub fn of_line(&self, line: &ReportLine) -> Option<&Fact> {
        fn find<'a>(map: &'a HashMap<Key, Fact>, provider: Provider, refs: Vec<&str>) -> Option<&'a Fact> {
            refs.into_iter().find_map(|r| map.get(&(provider, r.to_owned())))
        }
        let payment = || find(&self.payments, line.provider, line.payment_references());
        match line.kind {
            payledger_core::settlement::LineKind::Charge => payment(),
            payledger_core::settlement::LineKind::Refund => {
                find(&self.refunds, line.provider, line.modification_references())
            }
            payledger_core::settlement::LineKind::Dispute | payledger_core::settlement::LineKind::DisputeReversal => {
                find(&self.disputes, line.provider, line.modification_references())
                    .or_else(|| payment().and_then(|p| self.disputes_of_payment.get(&p.payment_id)))
            }
            _ => None,
        }
    }
}

/// The day up to which each provider's reports reach (the latest line's day).
pub(super) async fn report_coverage<C: GenericClient>(
    client: &C,
    schema: &str,
    tenant_id: Uuid,
    time_zone: &str,
) -> ServiceResult<HashMap<Provider, NaiveDate>> {
    let sql = format!(
        "SELECT provider, (max(period_to) AT TIME ZONE $2)::date FROM {schema}.settlement_reports
         WHERE tenant_id = $1 AND period_to IS NOT NULL GROUP BY provider"
    );
    let mut coverage = HashMap::new();
    for row in client.query(&sql, &[&tenant_id, &time_zone]).await? {
        let provider: String = row.try_get(0)?;
        coverage.insert(provider.parse().map_err(ServiceError::internal)?, row.try_get(1)?);
    }
    Ok(coverage)
}

/// The captures, refunds and disputes of the period that no report line (of any day) settles,
/// each with its day.
pub(super) async fn unsettled_in_period<C: GenericClient>(
    client: &C,
    schema: &str,
    period: &Period,
    time_zone: &str,
) -> ServiceResult<Vec<(NaiveDate, Fact)>> {
    let in_period = |column: &str| {
        format!("{column} >= ($3::date::timestamp AT TIME ZONE $5) AND {column} < (($4::date + 1)::timestamp AT TIME ZONE $5)")
    };
    let queries = [
        captures_sql(
            schema,
            // Payments with a capture in the period (index `journal_entries_recorded`); the first
            // capture must be in it too.
            &format!(
                "(SELECT DISTINCT payment_id FROM {schema}.journal_entries
                  WHERE tenant_id = $1 AND kind = 'capture' AND {}) jp
                 JOIN {schema}.payments p ON p.tenant_id = $1 AND p.payment_id = jp.payment_id",
                in_period("recorded_at")
            ),
            &format!("p.amount_captured_minor > 0 AND {}", in_period("c.first_at")),
            "$5",
        ),
        refunds_sql(schema, &format!("r.status = 'succeeded' AND {}", in_period("r.created_at")), "$5"),
        disputes_sql(schema, &in_period("d.created_at"), "$5"),
    ];
    let provider = period.provider.map(Provider::as_str);
    let mut candidates = Vec::new();
    for sql in queries {
        let sql = format!("SELECT * FROM ({sql}) facts WHERE $2::text IS NULL OR provider = $2");
        let rows = client.query(&sql, &[&period.tenant_id, &provider, &period.from, &period.to, &time_zone]).await?;
        for row in &rows {
            candidates.push((row.try_get::<_, NaiveDate>("day")?, read_fact(row)?));
        }
    }
    let settled = settled_references(client, schema, period.tenant_id, &candidates).await?;
    candidates.retain(|(_, fact)| {
        !fact.settling_references().into_iter().any(|(p, k, r)| settled.contains(&(p, k, r.clone())))
    });
    Ok(candidates)
}

/// Which of the facts' references some (non-duplicate or duplicate: the gateway reported it)
/// line of the right kind names, as (provider, kind, reference).
async fn settled_references<C: GenericClient>(
    client: &C,
    schema: &str,
    tenant_id: Uuid,
    facts: &[(NaiveDate, Fact)],
) -> ServiceResult<HashSet<(Provider, &'static str, String)>> {
    let refs: Vec<&str> = facts.iter().flat_map(|(_, f)| f.settling_references()).map(|(_, _, r)| r.as_str()).collect();
    let mut settled = HashSet::new();
    if refs.is_empty() {
        return Ok(settled);
    }
    let sql = format!(
        "SELECT DISTINCT l.provider, l.kind, r.ref FROM {schema}.settlement_lines l,
             unnest(ARRAY[l.payment_intent_id, l.charge_id, l.source_id, l.psp_reference, l.modification_reference]) AS r(ref)
         WHERE l.tenant_id = $1 AND l.kind IN ('charge', 'refund', 'dispute') AND r.ref = ANY($2)
           AND (l.payment_intent_id = ANY($2) OR l.charge_id = ANY($2) OR l.source_id = ANY($2)
                OR l.psp_reference = ANY($2) OR l.modification_reference = ANY($2))"
    );
    for row in client.query(&sql, &[&tenant_id, &refs]).await? {
        let provider: String = row.try_get(0)?;
        let kind: String = row.try_get(1)?;
        let kind = ["charge", "refund", "dispute"].into_iter().find(|k| *k == kind).unwrap_or("charge");
        settled.insert((provider.parse().map_err(ServiceError::internal)?, kind, row.try_get(2)?));
    }
    Ok(settled)
}

/// Columns every fact query selects: kind, provider, payment_id, child_id, provider_reference,
/// payment_reference, currency, captured, refunded, disputed, won, event_position, day
/// (in the time zone `tz`, an SQL expression).
/// `from` names the payments considered (`{schema}.payments p` joined to anything narrowing
/// them); each gets its first capture (index `journal_entries_payment`).
fn captures_sql(schema: &str, from: &str, filter: &str, tz: &str) -> String {
    format!(
        "SELECT 'capture' AS kind, p.provider, p.payment_id, NULL::uuid AS child_id, p.provider_reference,
                p.provider_reference AS payment_reference, p.currency,
                p.amount_captured_minor AS captured, 0::bigint AS refunded, 0::bigint AS disputed, 0::bigint AS won,
                c.first_position AS event_position, (c.first_at AT TIME ZONE {tz})::date AS day
         FROM {from}
         JOIN LATERAL (SELECT min(event_position) AS first_position, min(recorded_at) AS first_at
               FROM {schema}.journal_entries j
               WHERE j.tenant_id = p.tenant_id AND j.payment_id = p.payment_id AND j.kind = 'capture') c
           ON c.first_at IS NOT NULL
         WHERE p.tenant_id = $1 AND {filter}"
    )
}

fn refunds_sql(schema: &str, filter: &str, tz: &str) -> String {
    format!(
        "SELECT 'refund' AS kind, p.provider, r.payment_id, r.refund_id AS child_id, r.provider_reference,
                p.provider_reference AS payment_reference, r.currency,
                0::bigint AS captured, CASE WHEN r.status = 'succeeded' THEN r.amount_minor ELSE 0 END AS refunded,
                0::bigint AS disputed, 0::bigint AS won, NULL::bigint AS event_position,
                (r.created_at AT TIME ZONE {tz})::date AS day
         FROM {schema}.refunds r JOIN {schema}.payments p ON p.tenant_id = r.tenant_id AND p.payment_id = r.payment_id
         WHERE r.tenant_id = $1 AND {filter}"
    )
}

fn disputes_sql(schema: &str, filter: &str, tz: &str) -> String {
    format!(
        "SELECT 'dispute' AS kind, p.provider, d.payment_id, d.dispute_id AS child_id, d.provider_reference,
                p.provider_reference AS payment_reference, d.currency,
                0::bigint AS captured, 0::bigint AS refunded, d.amount_minor AS disputed,
                CASE WHEN d.status = 'won' THEN d.amount_minor ELSE 0 END AS won, NULL::bigint AS event_position,
                (d.created_at AT TIME ZONE {tz})::date AS day
         FROM {schema}.disputes d JOIN {schema}.payments p ON p.tenant_id = d.tenant_id AND p.payment_id = d.payment_id
         WHERE d.tenant_id = $1 AND {filter}"
    )
}

async fn captures<C: GenericClient>(
    client: &C,
    schema: &str,
    tenant_id: Uuid,
    refs: &[&str],
) -> ServiceResult<Vec<Fact>> {
    let from = format!("{schema}.payments p");
    let sql = captures_sql(schema, &from, "p.provider_reference = ANY($2)", "'UTC'");
    query_facts(client, &sql, &[&tenant_id, &refs], refs.is_empty()).await
}

async fn refunds<C: GenericClient>(
    client: &C,
    schema: &str,
    tenant_id: Uuid,
    refs: &[&str],
) -> ServiceResult<Vec<Fact>> {
    let sql = refunds_sql(schema, "r.provider_reference = ANY($2)", "'UTC'");
    query_facts(client, &sql, &[&tenant_id, &refs], refs.is_empty()).await
}

async fn disputes<C: GenericClient>(
    client: &C,
    schema: &str,
    tenant_id: Uuid,
    refs: &[&str],
    payment_ids: &[Uuid],
) -> ServiceResult<Vec<Fact>> {
    let sql = disputes_sql(schema, "(d.provider_reference = ANY($2) OR d.payment_id = ANY($3))", "'UTC'");
    query_facts(client, &sql, &[&tenant_id, &refs, &payment_ids], refs.is_empty() && payment_ids.is_empty()).await
}

async fn query_facts<C: GenericClient>(
    client: &C,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    nothing_to_find: bool,
) -> ServiceResult<Vec<Fact>> {
    if nothing_to_find {
        return Ok(Vec::new());
    }
    client.query(sql, params).await?.iter().map(read_fact).collect()
}

fn read_fact(row: &Row) -> ServiceResult<Fact> {
    let kind: String = row.try_get("kind")?;
    let provider: String = row.try_get("provider")?;
    let currency: String = row.try_get("currency")?;
    Ok(Fact {
        kind: match kind.as_str() {
            "capture" => FactKind::Capture,
            "refund" => FactKind::Refund,
            _ => FactKind::Dispute,
        },
        provider: provider.parse().map_err(ServiceError::internal)?,
        payment_id: row.try_get("payment_id")?,
        child_id: row.try_get("child_id")?,
        provider_reference: row.try_get("provider_reference")?,
        payment_reference: row.try_get("payment_reference")?,
        currency: Currency::parse(&currency).map_err(ServiceError::internal)?,
        amounts: FactAmounts {
            captured_minor: row.try_get("captured")?,
            refunded_minor: row.try_get("refunded")?,
            disputed_minor: row.try_get("disputed")?,
            dispute_won_minor: row.try_get("won")?,
        },
        event_position: row.try_get("event_position")?,
    })
}
