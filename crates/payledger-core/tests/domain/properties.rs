//! Property tests: random sequences of commands and gateway reports on one
//! payment (duplicates and reorderings included). After every step the
//! invariants hold, the journal balances and ties out with the payment, and
//! replay is deterministic.

use payledger_core::ledger::{postings_for, Account, AccountBalances};
use payledger_core::payment::{
    self, CaptureMethod, DisputeOutcome, GatewayReport, Payment, PaymentCommand, PaymentStatus, RefundStatus,
    ReportKind,
};
use payledger_core::testing::*;
use payledger_core::{Currency, DomainEvent, MinorUnits};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Step {
    Authorize(Option<i64>),
    Capture(Option<i64>, bool),
    Void,
    Fail,
    RequestRefund(u8, i64, Option<u8>),
    SucceedRefund(u8),
    FailRefund(u8),
    OpenDispute(u8, i64),
    ResolveDispute(u8, bool),
    /// A report under key n, as of second s (totals and failures compare their times).
    Report(u8, ReportKind, u32),
    /// Deliver the n-th report sent so far again (modulo their count).
    Redeliver(usize),
}

fn amount() -> impl Strategy<Value = i64> {
    // Recurring round amounts make API refunds and gateway refunds match by
    // amount (the matching of refunds requested without a reference).
    prop_oneof![3 => 1..=3_000i64, 1 => 1..=12_000i64, 2 => prop::sample::select(vec![500i64, 1_000])]
}

fn reference(prefix: &'static str) -> impl Strategy<Value = String> {
    (0u8..4).prop_map(move |n| format!("{prefix}_{n}"))
}

fn report_kind() -> impl Strategy<Value = ReportKind> {
    prop_oneof![
        amount().prop_map(|a| ReportKind::Authorized { amount_minor: minor(a) }),
        (amount(), any::<bool>())
            .prop_map(|(a, cumulative)| ReportKind::Captured { amount_minor: minor(a), cumulative }),
        Just(ReportKind::Failed { code: "card_declined".into(), message: "declined".into() }),
        Just(ReportKind::Canceled),
        (reference("re"), amount())
            .prop_map(|(r, a)| ReportKind::Refunded { provider_refund_reference: r, amount_minor: minor(a) }),
        reference("re").prop_map(|r| ReportKind::RefundFailed { provider_refund_reference: r }),
        // Running totals: with failures of refunds they counted, and captures after close.
        amount().prop_map(|a| ReportKind::RefundedInTotal {
            charge_reference: "ch_1".into(),
            total_refunded_minor: minor(a)
        }),
        (reference("dp"), amount())
            .prop_map(|(r, a)| ReportKind::DisputeOpened { provider_dispute_reference: r, amount_minor: minor(a) }),
        (reference("dp"), any::<bool>())
            .prop_map(|(r, won)| ReportKind::DisputeClosed { provider_dispute_reference: r, won }),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        2 => proptest::option::of(amount()).prop_map(Step::Authorize),
        3 => (proptest::option::of(amount()), any::<bool>()).prop_map(|(a, f)| Step::Capture(a, f)),
        1 => Just(Step::Void),
        1 => Just(Step::Fail),
        2 => (0u8..4, amount(), proptest::option::of(0u8..4)).prop_map(|(n, a, r)| Step::RequestRefund(n, a, r)),
        1 => (0u8..4).prop_map(Step::SucceedRefund),
        1 => (0u8..4).prop_map(Step::FailRefund),
        1 => (0u8..3, amount()).prop_map(|(n, a)| Step::OpenDispute(n, a)),
        1 => (0u8..3, any::<bool>()).prop_map(|(n, won)| Step::ResolveDispute(n, won)),
        6 => (0u8..30, report_kind(), 0u32..60).prop_map(|(key, kind, s)| Step::Report(key, kind, s)),
        2 => any::<usize>().prop_map(Step::Redeliver),
    ]
}

fn to_command(step: &Step, sent: &mut Vec<PaymentCommand>) -> Option<PaymentCommand> {
    let command = match step {
        Step::Authorize(a) => PaymentCommand::Authorize { amount_minor: a.map(minor) },
        Step::Capture(a, final_capture) => {
            PaymentCommand::Capture { amount_minor: a.map(minor), final_capture: *final_capture }
        }
        Step::Void => PaymentCommand::Void,
        Step::Fail => PaymentCommand::Fail { code: "card_declined".into(), message: "declined".into() },
        Step::RequestRefund(n, a, r) => PaymentCommand::RequestRefund {
            refund_id: refund_id(u128::from(*n)),
            amount_minor: minor(*a),
            reason: None,
            provider_reference: r.map(|r| format!("re_{r}")),
            at: at(1),
        },
        Step::SucceedRefund(n) => PaymentCommand::SucceedRefund { refund_id: refund_id(u128::from(*n)) },
        Step::FailRefund(n) => {
            PaymentCommand::FailRefund { refund_id: refund_id(u128::from(*n)), code: None, message: None }
        }
        Step::OpenDispute(n, a) => open_dispute(u128::from(*n), *a),
        Step::ResolveDispute(n, won) => {
            resolve(u128::from(*n), if *won { DisputeOutcome::Won } else { DisputeOutcome::Lost })
        }
        Step::Report(key, kind, second) => {
            let report = GatewayReport::new(format!("evt_{key}"), kind.clone(), at(*second));
            let command = PaymentCommand::ApplyGatewayReport(report);
            sent.push(command.clone());
            command
        }
        Step::Redeliver(n) => {
            if sent.is_empty() {
                return None;
            }
            sent[n % sent.len()].clone()
        }
    };
    Some(command)
}

/// Refunded + pending + disputed: what refunds and disputes take from captured.
fn encumbered(p: &Payment) -> MinorUnits {
    p.amount_refunded.saturating_add(p.amount_refund_pending).saturating_add(p.amount_disputed)
}

fn check_amounts(p: &Payment) -> Result<(), TestCaseError> {
    let amount = MinorUnits::from(p.amount_minor);
    prop_assert!(p.amount_captured <= p.amount_authorized && p.amount_authorized <= amount, "{p:?}");
    // Refunds never exceed captured, nor do disputes; together they may, but
    // only after a chargeback reported by the gateway (checked per step).
    prop_assert!(p.amount_refunded.saturating_add(p.amount_refund_pending) <= p.amount_captured);
    prop_assert!(p.amount_disputed <= p.amount_captured);
    prop_assert_eq!(p.check_invariants(), Ok(()));
    // Spelled out (check_invariants holds them too): refunded is what succeeded plus what a
    // running total counted that no refund explains, and never more than captured.
    let succeeded = p
        .refunds
        .iter()
        .filter(|r| r.status == RefundStatus::Succeeded)
        .fold(MinorUnits::ZERO, |sum, r| sum.saturating_add(r.amount_minor.into()));
    prop_assert_eq!(p.amount_refunded, succeeded.saturating_add(p.amount_refunded_unattributed));
    prop_assert!(p.amount_refunded <= p.amount_captured);
    Ok(())
}

/// Commands through the API keep the stricter shared pool: an API dispute
/// fits what refunds and disputes left, and no API command makes refunds
/// plus disputes exceed captured.
fn check_api_step(before: &Payment, step: &Step, after: &Payment) -> Result<(), TestCaseError> {
    if let Step::OpenDispute(_, a) = step {
        prop_assert!(before.amount_disputable().get() >= *a, "API dispute of {} beyond {:?}", a, before);
    }
    if encumbered(before) <= before.amount_captured {
        prop_assert!(encumbered(after) <= after.amount_captured, "{:?} over-encumbered {:?}", step, after);
    }
    Ok(())
}

/// The ledger says exactly what the payment says. `gateway_receivable` may
/// be negative (a chargeback on refunded money: we owe the gateway).
fn check_tie_out(p: &Payment, balances: &AccountBalances) -> Result<(), TestCaseError> {
    let usd = |account| balances.balance(account, Currency::USD);
    let i = |units: MinorUnits| i128::from(units.get());
    prop_assert!(balances.trial_balance_is_zero());
    prop_assert_eq!(usd(Account::SalesRevenue), i(p.amount_captured));
    prop_assert_eq!(usd(Account::Refunds), i(p.amount_refunded));
    prop_assert_eq!(usd(Account::DisputesHeld), i(p.amount_dispute_open()));
    prop_assert_eq!(usd(Account::ChargebackLosses), i(p.amount_dispute_lost()));
    prop_assert_eq!(
        usd(Account::GatewayReceivable),
        i(p.amount_captured) - i(p.amount_refunded) - i(p.amount_disputed)
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn invariants_hold_after_every_step(
        automatic in any::<bool>(),
        steps in proptest::collection::vec(step(), 1..40),
    ) {
        let method = if automatic { CaptureMethod::Automatic } else { CaptureMethod::Manual };
        let mut history = History::new().given(initiate(method));
        let mut state = history.state();
        let mut balances = AccountBalances::new();
        let mut sent = Vec::new();
        for step in &steps {
            let Some(command) = to_command(step, &mut sent) else { continue };
            let is_report = matches!(command, PaymentCommand::ApplyGatewayReport(_));
            let outcome = payment::decide(&state, command.clone());
            // decide is pure: the same question gets the same answer.
            prop_assert_eq!(&outcome, &payment::decide(&state, command));
            let before = state.clone().expect("payment exists");
            let events = match outcome {
                Ok(events) => events,
                Err(error) => {
                    // A report on an existing payment is never an error; a
                    // refused command emits nothing and changes nothing.
                    prop_assert!(!is_report, "report refused: {}", error);
                    continue;
                }
            };
            prop_assert!(!events.is_empty());
            for event in &events {
                if let Some(transaction) = postings_for(event) {
                    prop_assert!(transaction.is_balanced());
                    balances.post(&transaction);
                }
                let stored = DomainEvent::from(event.clone());
                let decoded = DomainEvent::decode(stored.event_type(), stored.schema_version(), &stored.to_payload());
                prop_assert_eq!(decoded.as_ref(), Ok(&stored));
                state = payment::evolve(state, event);
            }
            history.events.extend(events);
            let p = state.as_ref().expect("payment exists");
            check_amounts(p)?;
            if !is_report {
                check_api_step(&before, step, p)?;
            }
            check_tie_out(p, &balances)?;
            prop_assert_eq!(&history.balances(), &balances);
        }
        // Replay from scratch equals the incremental state, twice over.
        prop_assert_eq!(payment::fold(&history.events), state.clone());
        prop_assert_eq!(payment::fold(&history.events), payment::fold(&history.events));
    }
}

/// A consistent story of gateway facts about one payment.
#[derive(Debug, Clone)]
struct Story {
    method: CaptureMethod,
    authorized: i64,
    captures: Vec<i64>,
    cumulative: bool,
    refunds: Vec<i64>,
    disputes: Vec<i64>,
}

fn story() -> impl Strategy<Value = Story> {
    (any::<bool>(), 1..=10_000i64, proptest::collection::vec(1..=10_000i64, 1..4), any::<bool>())
        .prop_flat_map(|(automatic, authorized, raw_captures, cumulative)| {
            // Scale the captures to fit the authorization (all of it when automatic).
            let total = if automatic { authorized } else { authorized.min(raw_captures.iter().sum()) };
            let captures: Vec<i64> = fit(&raw_captures, total).into_iter().filter(|&c| c > 0).collect();
            let captured: i64 = captures.iter().sum();
            let method = if automatic { CaptureMethod::Automatic } else { CaptureMethod::Manual };
            (
                Just((method, authorized, captures, cumulative)),
                proptest::collection::vec(1..=10_000i64, 0..3),
                proptest::collection::vec(1..=10_000i64, 0..2),
                0..=captured,
            )
        })
        .prop_map(|((method, authorized, captures, cumulative), raw_refunds, raw_disputes, returned)| {
            let mut parts = raw_refunds.clone();
            parts.extend(&raw_disputes);
            let scaled = fit(&parts, returned.min(parts.iter().sum()));
            let (refunds, disputes) = scaled.split_at(raw_refunds.len());
            let positive = |parts: &[i64]| parts.iter().copied().filter(|&p| p > 0).collect();
            Story { method, authorized, captures, cumulative, refunds: positive(refunds), disputes: positive(disputes) }
        })
}

/// Non-negative parts roughly proportional to `raw`, summing exactly to `total`.
fn fit(raw: &[i64], total: i64) -> Vec<i64> {
    let sum: i64 = raw.iter().sum();
    if total <= 0 || sum <= 0 {
        return vec![0; raw.len()];
    }
    let mut parts: Vec<i64> = raw.iter().map(|r| r * total / sum).collect();
    parts[0] += total - parts.iter().sum::<i64>();
    parts
}

fn story_reports(story: &Story) -> Vec<PaymentCommand> {
    let mut reports = vec![report("auth", ReportKind::Authorized { amount_minor: minor(story.authorized) })];
    let mut total = 0;
    for (i, capture) in story.captures.iter().enumerate() {
        total += capture;
        let amount = if story.cumulative { total } else { *capture };
        reports.push(report(
            &format!("cap_{i}"),
            ReportKind::Captured { amount_minor: minor(amount), cumulative: story.cumulative },
        ));
    }
    for (i, refund) in story.refunds.iter().enumerate() {
        let kind = ReportKind::Refunded { provider_refund_reference: format!("re_{i}"), amount_minor: minor(*refund) };
        reports.push(report(&format!("ref_{i}"), kind));
    }
    for (i, dispute) in story.disputes.iter().enumerate() {
        let kind =
            ReportKind::DisputeOpened { provider_dispute_reference: format!("dp_{i}"), amount_minor: minor(*dispute) };
        reports.push(report(&format!("dsp_{i}"), kind));
    }
    reports
}

fn deliver(method: CaptureMethod, reports: &[PaymentCommand]) -> History {
    let mut history = History::new().given(initiate(method));
    for report in reports {
        history.record(report.clone()).expect("reports are never refused");
    }
    history
}

fn outcome(history: &History) -> (PaymentStatus, [MinorUnits; 5], Vec<i128>) {
    let p = history.payment();
    let balances = history.balances();
    (
        p.status,
        [p.amount_authorized, p.amount_captured, p.amount_refunded, p.amount_refund_pending, p.amount_disputed],
        Account::ALL.iter().map(|&a| balances.balance(a, Currency::USD)).collect(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    /// The same facts delivered in any order, with duplicates, end the same
    /// as delivered in order.
    #[test]
    fn shuffled_and_duplicated_reports_converge(
        story in story(),
        shuffle in any::<proptest::sample::Index>(),
        seed in proptest::collection::vec(any::<proptest::sample::Index>(), 0..6),
    ) {
        let in_order = story_reports(&story);
        prop_assert!(story.captures.iter().sum::<i64>() <= story.authorized);
        let expected = outcome(&deliver(story.method, &in_order));
        prop_assert_eq!(expected.1[1].get(), story.captures.iter().sum::<i64>());

        let mut shuffled = in_order.clone();
        // A deterministic shuffle driven by the generated index.
        let n = shuffled.len();
        for i in (1..n).rev() {
            let j = shuffle.index(i + 1).wrapping_add(i * 7) % (i + 1);
            shuffled.swap(i, j);
        }
        for index in &seed {
            let duplicate = shuffled[index.index(n)].clone();
            shuffled.insert(index.index(shuffled.len() + 1), duplicate);
        }
        prop_assert_eq!(outcome(&deliver(story.method, &shuffled)), expected, "story {:?}", story);
    }
}

/// Refunds requested through the API without a reference, then gateway
/// refund reports (distinct references, redelivered under the same and
/// other report keys, in any order): each gateway refund matches at most one
/// API refund of its amount (pending first, then succeeded), and each API
/// refund at most one gateway refund; the rest is new money. So for each
/// amount the payment ends with max(API refunds, gateway refunds) refunds.
#[derive(Debug, Clone)]
struct RefundStory {
    /// (amount, marked succeeded through the API)
    api: Vec<(i64, bool)>,
    /// Amounts of the gateway refunds `re_0`, `re_1`, ...
    gateway: Vec<i64>,
    /// Deliveries: (gateway refund index, report key variant).
    deliveries: Vec<(proptest::sample::Index, u8)>,
}

fn refund_story() -> impl Strategy<Value = RefundStory> {
    let amount = || prop::sample::select(vec![500i64, 1_000]);
    (
        proptest::collection::vec((amount(), any::<bool>()), 0..5),
        proptest::collection::vec(amount(), 1..5),
        proptest::collection::vec((any::<proptest::sample::Index>(), 0u8..2), 1..12),
    )
        .prop_map(|(api, gateway, deliveries)| RefundStory { api, gateway, deliveries })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn gateway_refunds_match_api_refunds_without_a_reference_at_most_once(story in refund_story()) {
        let mut history = History::new().given(initiate(CaptureMethod::Manual)).given(authorize()).given(capture(None));
        for (n, &(amount, succeeded)) in story.api.iter().enumerate() {
            history = history.given(request_refund(n as u128, amount));
            if succeeded {
                history = history.given(PaymentCommand::SucceedRefund { refund_id: refund_id(n as u128) });
            }
        }
        let mut delivered = std::collections::BTreeSet::new();
        for (index, variant) in &story.deliveries {
            let i = index.index(story.gateway.len());
            delivered.insert(i);
            let kind = ReportKind::Refunded {
                provider_refund_reference: format!("re_{i}"),
                amount_minor: minor(story.gateway[i]),
            };
            let events = history.record(report(&format!("evt_{i}_{variant}"), kind)).expect("never refused");
            for transaction in events.iter().filter_map(postings_for) {
                prop_assert!(transaction.is_balanced());
            }
        }
        let p = history.payment();
        prop_assert_eq!(p.check_invariants(), Ok(()));
        let (mut refunded, mut pending) = (0, 0);
        for amount in [500i64, 1_000] {
            let api_pending = story.api.iter().filter(|&&(a, s)| a == amount && !s).count() as i64;
            let api_succeeded = story.api.iter().filter(|&&(a, s)| a == amount && s).count() as i64;
            let gateway = delivered.iter().filter(|&&i| story.gateway[i] == amount).count() as i64;
            let settled = api_pending.min(gateway);
            let new = (gateway - api_pending - api_succeeded).max(0);
            refunded += amount * (api_succeeded + settled + new);
            pending += amount * (api_pending - settled);
            let refunds = p.refunds.iter().filter(|r| r.amount_minor.get() == amount).count() as i64;
            prop_assert_eq!(refunds, (api_pending + api_succeeded).max(gateway));
        }
        prop_assert_eq!(p.amount_refunded.get(), refunded, "{:?}", p.refunds);
        prop_assert_eq!(p.amount_refund_pending.get(), pending);
        // Every delivered gateway refund is on exactly one refund.
        for &i in &delivered {
            let reference = format!("re_{i}");
            let holders = p.refunds.iter().filter(|r| r.provider_reference.as_deref() == Some(&reference)).count();
            prop_assert_eq!(holders, 1, "{}", reference);
        }
        let balances = history.balances();
        prop_assert!(balances.trial_balance_is_zero());
        prop_assert_eq!(balances.balance(Account::Refunds, Currency::USD), i128::from(refunded));
        prop_assert_eq!(payment::fold(&history.events), Some(p));
    }
}

/// Stripe refunds reported twice over: each by its own `refund.*` report and by the charge's
/// running total after it (`charge.refunded`). Any subset of those reports, shuffled and
/// redelivered, leaves `amount_refunded` at max(largest total delivered, sum of the refunds
/// delivered): never the same money twice, never less than the gateway said. When every
/// report arrives, each refund is there once with its own reference and nothing is left
/// unattributed.
#[derive(Debug, Clone)]
struct TotalsStory {
    refunds: Vec<i64>,
    /// (report index, delivered?) shuffled; index < 2 * refunds.len()
    order: Vec<proptest::sample::Index>,
    keep: Vec<bool>,
    duplicates: Vec<proptest::sample::Index>,
}

fn totals_story() -> impl Strategy<Value = TotalsStory> {
    (
        proptest::collection::vec(prop::sample::select(vec![300i64, 500, 1_200, 2_000]), 1..5),
        proptest::collection::vec(any::<proptest::sample::Index>(), 8),
        proptest::collection::vec(any::<bool>(), 8),
        proptest::collection::vec(any::<proptest::sample::Index>(), 0..4),
    )
        .prop_map(|(refunds, order, keep, duplicates)| TotalsStory { refunds, order, keep, duplicates })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn running_totals_and_refund_reports_never_count_money_twice(story in totals_story(), all in any::<bool>()) {
        let mut reports = Vec::new();
        let mut total = 0;
        for (i, amount) in story.refunds.iter().enumerate() {
            total += amount;
            let own = ReportKind::Refunded { provider_refund_reference: format!("re_{i}"), amount_minor: minor(*amount) };
            let running = ReportKind::RefundedInTotal { charge_reference: "ch_1".into(), total_refunded_minor: minor(total) };
            reports.push((report(&format!("evt_re_{i}"), own), Some(*amount), None));
            reports.push((report(&format!("evt_total_{i}"), running), None, Some(total)));
        }
        let n = reports.len();
        let mut order: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            order.swap(i, story.order[i].index(i + 1));
        }
        let kept: Vec<usize> = order.into_iter().enumerate().filter(|(k, _)| all || story.keep[*k]).map(|(_, i)| i).collect();
        let mut deliveries = kept.clone();
        for d in &story.duplicates {
            if !kept.is_empty() {
                deliveries.push(kept[d.index(kept.len())]);
            }
        }
        let mut history = History::new().given(initiate(CaptureMethod::Manual)).given(authorize()).given(capture(None));
        for &i in &deliveries {
            let events = history.record(reports[i].0.clone()).expect("never refused");
            for transaction in events.iter().filter_map(postings_for) {
                prop_assert!(transaction.is_balanced());
            }
        }
        let largest_total = kept.iter().filter_map(|&i| reports[i].2).max().unwrap_or(0);
        let own_sum: i64 = kept.iter().filter_map(|&i| reports[i].1).sum();
        let p = history.payment();
        prop_assert_eq!(p.check_invariants(), Ok(()));
        prop_assert_eq!(p.amount_refunded.get(), largest_total.max(own_sum), "{:?}", story);
        let balances = history.balances();
        prop_assert!(balances.trial_balance_is_zero());
        prop_assert_eq!(balances.balance(Account::Refunds, Currency::USD), i128::from(p.amount_refunded.get()));
        if all {
            prop_assert_eq!(p.amount_refunded_unattributed, MinorUnits::ZERO);
            let mut got: Vec<_> = p.refunds.iter().map(|r| (r.provider_reference.clone(), r.amount_minor.get())).collect();
            got.sort();
            let mut want: Vec<_> = story.refunds.iter().enumerate().map(|(i, a)| (Some(format!("re_{i}")), *a)).collect();
            want.sort();
            prop_assert_eq!(got, want);
        }
        prop_assert_eq!(payment::fold(&history.events), Some(p));
    }
}

/// Refunds requested through the API with the gateway's reference, each pending at the
/// gateway from its second `created` and settled at `created + settle_after`: succeeded (its
/// own report) or failed (`RefundFailed`). On each creation the gateway sends its running
/// total, which counts pending refunds. Every report, shuffled and redelivered, ends with the
/// gateway's truth: refunded = the refunds that did not fail, nothing unattributed, and the
/// journal saying the same.
#[derive(Debug, Clone)]
struct FailureStory {
    /// (amount, created second, settle after, fails)
    refunds: Vec<(i64, u32, u32, bool)>,
    order: Vec<proptest::sample::Index>,
    duplicates: Vec<proptest::sample::Index>,
}

fn failure_story() -> impl Strategy<Value = FailureStory> {
    (
        proptest::collection::vec(
            (prop::sample::select(vec![300i64, 500, 1_200, 2_000]), 0u32..20, 1u32..20, any::<bool>()),
            1..5,
        ),
        proptest::collection::vec(any::<proptest::sample::Index>(), 10),
        proptest::collection::vec(any::<proptest::sample::Index>(), 0..4),
    )
        .prop_map(|(refunds, order, duplicates)| FailureStory { refunds, order, duplicates })
}

fn failure_story_reports(story: &FailureStory) -> Vec<PaymentCommand> {
    let at_second =
        |key: String, kind, second| PaymentCommand::ApplyGatewayReport(GatewayReport::new(key, kind, at(second)));
    let mut reports = Vec::new();
    for (i, &(amount, created, settle_after, fails)) in story.refunds.iter().enumerate() {
        let reference = format!("re_{i}");
        let settled = created + settle_after;
        let kind = if fails {
            ReportKind::RefundFailed { provider_refund_reference: reference }
        } else {
            ReportKind::Refunded { provider_refund_reference: reference, amount_minor: minor(amount) }
        };
        reports.push(at_second(format!("evt_settled_{i}"), kind, settled));
        // The running total as of this refund's creation: created by then, not failed by then.
        let total: i64 = story
            .refunds
            .iter()
            .filter(|&&(_, c, s, f)| c <= created && !(f && c + s <= created))
            .map(|&(a, ..)| a)
            .sum();
        let kind = ReportKind::RefundedInTotal { charge_reference: "ch_1".into(), total_refunded_minor: minor(total) };
        reports.push(at_second(format!("evt_total_{i}"), kind, created));
    }
    reports
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn refunds_a_total_counted_and_that_failed_are_never_counted(story in failure_story()) {
        let reports = failure_story_reports(&story);
        let n = reports.len();
        let mut order: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            order.swap(i, story.order[i].index(i + 1));
        }
        for d in &story.duplicates {
            order.push(order[d.index(n)]);
        }
        let mut history = History::new().given(initiate(CaptureMethod::Manual)).given(authorize()).given(capture(None));
        for (i, &(amount, ..)) in story.refunds.iter().enumerate() {
            history = history.given(PaymentCommand::RequestRefund {
                refund_id: refund_id(i as u128),
                amount_minor: minor(amount),
                reason: None,
                provider_reference: Some(format!("re_{i}")),
                at: at(0),
            });
        }
        for &i in &order {
            let events = history.record(reports[i].clone()).expect("never refused");
            for transaction in events.iter().filter_map(postings_for) {
                prop_assert!(transaction.is_balanced());
            }
            check_amounts(&history.payment())?;
        }
        let p = history.payment();
        let kept: i64 = story.refunds.iter().filter(|r| !r.3).map(|r| r.0).sum();
        prop_assert_eq!(p.amount_refunded.get(), kept, "{:?}", p.refunds);
        prop_assert_eq!(p.amount_refunded_unattributed, MinorUnits::ZERO);
        for (i, r) in story.refunds.iter().enumerate() {
            let want = if r.3 { RefundStatus::Failed } else { RefundStatus::Succeeded };
            prop_assert_eq!(p.refund(refund_id(i as u128)).map(|r| r.status), Some(want));
        }
        let balances = history.balances();
        prop_assert!(balances.trial_balance_is_zero());
        check_tie_out(&p, &balances)?;
        prop_assert_eq!(payment::fold(&history.events), Some(p));
    }
}
