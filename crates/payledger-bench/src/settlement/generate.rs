//! The generated day: a Stripe itemized balance report and the ledger it should reconcile
//! against, decided together so that the expected statuses are known exactly.
//!
//! For `lines` lines (one of them the payout), of the other `n`: n/20 refunds, n/1000
//! disputes, n/2000 fee lines, n/10000 charges the ledger holds at another amount, n/10000
//! charges of payments the ledger does not know, n/20000 charge lines repeated (each at least
//! one); the rest are charges that match. Every line names the payout `po_bench`, whose amount
//! is the net of all the others.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{Duration, NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};

/// Columns of the generated file, as Stripe names them.
pub(crate) const HEADER: [&str; 14] = [
    "balance_transaction_id",
    "created_utc",
    "available_on_utc",
    "currency",
    "gross",
    "fee",
    "net",
    "reporting_category",
    "source_id",
    "description",
    "automatic_payout_id",
    "charge_id",
    "payment_intent_id",
    "payment_metadata[order_id]",
];

pub(crate) const PAYOUT_ID: &str = "po_bench";
/// What the ledger holds more than the report on a mismatched charge, in minor units.
const MISMATCH_MINOR: i64 = 100;
const DISPUTE_FEE_MINOR: i64 = 1_500;
const FEE_LINE_MINOR: i64 = 200;

/// How many lines of each kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mix {
    pub lines: u64,
    pub charges: u64,
    pub refunds: u64,
    pub disputes: u64,
    pub fee_lines: u64,
    pub payouts: u64,
    /// Charge lines whose payment the ledger captured at another amount.
    pub amount_mismatches: u64,
    /// Charge lines of payments the ledger has no record of.
    pub unknown_payments: u64,
    /// Charge lines the file repeats (same `balance_transaction_id`).
    pub duplicate_lines: u64,
}

impl Mix {
    pub fn of(lines: u64) -> Mix {
        let n = lines.saturating_sub(1);
        let (refunds, disputes, fee_lines) = ((n / 20).max(1), (n / 1_000).max(1), (n / 2_000).max(1));
        let duplicate_lines = (n / 20_000).max(1);
        Mix {
            lines,
            charges: n.saturating_sub(refunds + disputes + fee_lines + duplicate_lines),
            refunds,
            disputes,
            fee_lines,
            payouts: 1,
            amount_mismatches: (n / 10_000).max(1),
            unknown_payments: (n / 10_000).max(1),
            duplicate_lines,
        }
    }

    /// The statuses reconciliation must give the day (every status named, zeros too).
    pub fn expected_counts(&self) -> BTreeMap<String, u64> {
        let matched = self.charges - self.amount_mismatches - self.unknown_payments
            + self.refunds
            + self.disputes
            + self.fee_lines
            + self.payouts;
        let mut counts: BTreeMap<String, u64> =
            payledger_core::reconciliation::ReconStatus::ALL.iter().map(|s| (s.as_str().to_owned(), 0)).collect();
        counts.insert("matched".into(), matched);
        counts.insert("amount_mismatch".into(), self.amount_mismatches);
        counts.insert("missing_in_ledger".into(), self.unknown_payments);
        counts.insert("duplicate_in_report".into(), self.duplicate_lines);
        counts
    }

    /// The charges refunded, disputed, mismatched and unknown must be distinct charges.
    pub fn fits(&self) -> bool {
        self.charges > self.refunds + self.disputes + self.amount_mismatches + self.unknown_payments
    }
}

/// What the ledger holds for one charge of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LedgerPayment {
    pub payment_intent_id: String,
    pub captured_minor: i64,
    /// `(re_…, amount)` of a succeeded refund.
    pub refund: Option<(String, i64)>,
    /// `(du_…, amount)` of an open dispute.
    pub dispute: Option<(String, i64)>,
}

/// The file, the ledger to seed, and what reconciliation must find.
pub(crate) struct Generated {
    pub csv: Vec<u8>,
    pub mix: Mix,
    pub ledger: Vec<LedgerPayment>,
    /// `difference_minor` of the day: the unknown charges' gross, less each mismatch.
    pub expected_difference_minor: i64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Charge {
    Refunded,
    Disputed,
    Plain,
    Mismatched,
    Unknown,
}

fn charge_kind(mix: &Mix, i: u64) -> Charge {
    if i < mix.refunds {
        Charge::Refunded
    } else if i < mix.refunds + mix.disputes {
        Charge::Disputed
    } else if i >= mix.charges - mix.unknown_payments {
        Charge::Unknown
    } else if i >= mix.charges - mix.unknown_payments - mix.amount_mismatches {
        Charge::Mismatched
    } else {
        Charge::Plain
    }
}

/// 5.00 to 1004.99, spread deterministically.
fn charge_minor(i: u64) -> i64 {
    500 + i64::try_from((i * 7_919) % 100_000).unwrap_or(0)
}

/// Stripe's card pricing, 2.9 % + 0.30.
fn card_fee_minor(gross_minor: i64) -> i64 {
    gross_minor * 29 / 1_000 + 30
}

/// Minor units as Stripe writes major units: `-12.50`.
pub(crate) fn major(minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

struct Writer {
    csv: String,
    day: NaiveDateTime,
    lines: u64,
    written: u64,
    net_minor: i64,
}

struct Row<'a> {
    txn: &'a str,
    gross_minor: i64,
    fee_minor: i64,
    category: &'a str,
    source_id: &'a str,
    description: &'a str,
    payout_id: &'a str,
    charge_id: &'a str,
    payment_intent_id: &'a str,
    order_id: &'a str,
}

impl Writer {
    /// Lines spread over the day in file order; returns the line's text.
    fn row(&mut self, row: &Row<'_>) -> String {
        let seconds = i64::try_from(self.written * 86_399 / self.lines.max(1)).unwrap_or(0);
        let created = (self.day + Duration::seconds(seconds)).format("%Y-%m-%d %H:%M:%S");
        let available = (self.day + Duration::days(2)).format("%Y-%m-%d %H:%M:%S");
        let net_minor = row.gross_minor - row.fee_minor;
        let text = format!(
            "{},{created},{available},usd,{},{},{},{},{},{},{},{},{},{}\n",
            row.txn,
            major(row.gross_minor),
            major(row.fee_minor),
            major(net_minor),
            row.category,
            row.source_id,
            row.description,
            row.payout_id,
            row.charge_id,
            row.payment_intent_id,
            row.order_id,
        );
        self.push(&text, net_minor);
        text
    }

    fn push(&mut self, text: &str, net_minor: i64) {
        self.csv.push_str(text);
        self.written += 1;
        self.net_minor += net_minor;
    }
}

/// The report of `day` with `mix.lines` lines, and its ledger.
pub(crate) fn generate(mix: Mix, day: NaiveDate) -> Generated {
    let mut w = Writer {
        csv: String::with_capacity(usize::try_from(mix.lines).unwrap_or(0) * 200),
        day: day.and_hms_opt(0, 0, 0).unwrap_or_default(),
        lines: mix.lines,
        written: 0,
        net_minor: 0,
    };
    let _ = writeln!(w.csv, "{}", HEADER.join(","));
    let mut ledger = Vec::new();
    let mut repeat = Vec::new();
    let mut difference = 0;
    for i in 0..mix.charges {
        let kind = charge_kind(&mix, i);
        let gross = charge_minor(i);
        let (pi, ch) = (format!("pi_bench_{i}"), format!("ch_bench_{i}"));
        let pi = if kind == Charge::Unknown { format!("pi_unknown_{i}") } else { pi };
        let order = format!("{}", 100_000 + i);
        let description = format!("Order {order}");
        let text = w.row(&Row {
            txn: &format!("txn_c{i}"),
            gross_minor: gross,
            fee_minor: card_fee_minor(gross),
            category: "charge",
            source_id: &ch,
            description: &description,
            payout_id: PAYOUT_ID,
            charge_id: &ch,
            payment_intent_id: &pi,
            order_id: &order,
        });
        if kind == Charge::Plain && (repeat.len() as u64) < mix.duplicate_lines {
            repeat.push(text);
        }
        let captured_minor = match kind {
            Charge::Unknown => {
                difference += gross;
                continue;
            }
            Charge::Mismatched => {
                difference -= MISMATCH_MINOR;
                gross + MISMATCH_MINOR
            }
            _ => gross,
        };
        let refund = (kind == Charge::Refunded).then(|| (format!("re_bench_{i}"), (gross / 2).max(1)));
        let dispute = (kind == Charge::Disputed).then(|| (format!("du_bench_{i}"), gross));
        ledger.push(LedgerPayment { payment_intent_id: pi, captured_minor, refund, dispute });
    }
    for text in &repeat {
        // The same line again: its net is not paid out twice.
        w.csv.push_str(text);
        w.written += 1;
    }
    write_children(&mut w, &ledger);
    for f in 0..mix.fee_lines {
        let description = format!("Radar for Fraud Teams ({day}) {f}");
        w.row(&Row {
            txn: &format!("txn_f{f}"),
            gross_minor: -FEE_LINE_MINOR,
            fee_minor: 0,
            category: "fee",
            source_id: "",
            description: &description,
            payout_id: PAYOUT_ID,
            charge_id: "",
            payment_intent_id: "",
            order_id: "",
        });
    }
    let payout = -w.net_minor;
    w.row(&Row {
        txn: "txn_payout",
        gross_minor: payout,
        fee_minor: 0,
        category: "payout",
        source_id: PAYOUT_ID,
        description: "STRIPE PAYOUT",
        payout_id: "",
        charge_id: "",
        payment_intent_id: "",
        order_id: "",
    });
    Generated { csv: w.csv.into_bytes(), mix, ledger, expected_difference_minor: difference }
}

/// The refund and dispute lines of the ledger's refunded and disputed payments.
fn write_children(w: &mut Writer, ledger: &[LedgerPayment]) {
    for (n, p) in ledger.iter().enumerate() {
        let ch = p.payment_intent_id.replace("pi_", "ch_");
        if let Some((re, amount)) = &p.refund {
            w.row(&Row {
                txn: &format!("txn_r{n}"),
                gross_minor: -amount,
                fee_minor: 0,
                category: "refund",
                source_id: re,
                description: "REFUND FOR CHARGE",
                payout_id: PAYOUT_ID,
                charge_id: &ch,
                payment_intent_id: &p.payment_intent_id,
                order_id: "",
            });
        }
    }
    for (n, p) in ledger.iter().enumerate() {
        let ch = p.payment_intent_id.replace("pi_", "ch_");
        if let Some((du, amount)) = &p.dispute {
            w.row(&Row {
                txn: &format!("txn_d{n}"),
                gross_minor: -amount,
                fee_minor: DISPUTE_FEE_MINOR,
                category: "dispute",
                source_id: du,
                description: "Chargeback withdrawal",
                payout_id: PAYOUT_ID,
                charge_id: &ch,
                payment_intent_id: &p.payment_intent_id,
                order_id: "",
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use payledger_core::payment::Provider;
    use payledger_core::settlement::LineKind;

    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 30).unwrap()
    }

    #[test]
    fn the_mix_of_100k_lines_adds_up() {
        let mix = Mix::of(100_000);
        assert!(mix.fits());
        let kinds = mix.charges + mix.refunds + mix.disputes + mix.fee_lines + mix.duplicate_lines + mix.payouts;
        assert_eq!(kinds, 100_000);
        assert_eq!((mix.refunds, mix.disputes, mix.amount_mismatches, mix.duplicate_lines), (4_999, 99, 9, 4));
        assert_eq!(mix.expected_counts().values().sum::<u64>(), 100_000);
    }

    #[test]
    fn writes_major_units() {
        assert_eq!(
            (major(7_500), major(-1_250), major(5), major(0)),
            ("75.00".into(), "-12.50".into(), "0.05".into(), "0.00".into())
        );
    }

    #[test]
    fn the_generated_file_parses_with_the_expected_kinds_and_a_balanced_payout() {
        let generated = generate(Mix::of(2_001), day());
        let lines = payledger_gateways::parse_settlement_report(Provider::Stripe, &generated.csv).unwrap();
        let mix = generated.mix;
        assert_eq!(lines.len() as u64, mix.lines);
        let count = |kind: LineKind| lines.iter().filter(|l| l.kind == kind).count() as u64;
        assert_eq!(count(LineKind::Charge), mix.charges + mix.duplicate_lines);
        assert_eq!((count(LineKind::Refund), count(LineKind::Dispute)), (mix.refunds, mix.disputes));
        assert_eq!((count(LineKind::Fee), count(LineKind::Payout)), (mix.fee_lines, 1));
        let mut keys: Vec<&str> = lines.iter().map(|l| l.dedupe_key.as_str()).collect();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len() as u64, mix.lines - mix.duplicate_lines);
        // The payout is the net of every line but the repeated ones.
        let repeated: i64 = lines[usize::try_from(mix.charges).unwrap()..]
            [..usize::try_from(mix.duplicate_lines).unwrap()]
            .iter()
            .map(|l| l.net_minor)
            .sum();
        assert_eq!(lines.iter().map(|l| l.net_minor).sum::<i64>(), repeated);
        assert!(lines.iter().all(|l| l.created_at.date_naive() == day()));
        assert_eq!(generated.ledger.len() as u64, mix.charges - mix.unknown_payments);
    }
}
