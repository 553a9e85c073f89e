//! Each fixture of fixtures/settlements parses to exactly the lines its README lists.

use payledger_core::settlement::{GatewayRefs, LineKind, SettlementLine};
use payledger_gateways::Provider;

use crate::settlement_support::*;

fn with_raw(mut lines: Vec<SettlementLine>, bytes: &[u8]) -> Vec<SettlementLine> {
    for line in &mut lines {
        line.raw = physical_line(bytes, line.line_number);
    }
    lines
}

fn stripe_refs(txn: &str, source: &str, charge: &str, pi: &str, payout: &str) -> GatewayRefs {
    GatewayRefs {
        balance_transaction_id: some(txn),
        source_id: some(source),
        charge_id: some(charge),
        payment_intent_id: some(pi),
        payout_id: some(payout),
        ..GatewayRefs::default()
    }
}

#[allow(clippy::too_many_arguments)]
fn stripe(
    n: u32,
    kind: LineKind,
    cat: &str,
    amounts: (i64, i64, i64),
    time: &str,
    txn: &str,
    src: &str,
    ch: &str,
    pi: &str,
) -> SettlementLine {
    let payout = if kind == LineKind::Payout { src } else { "po_1" };
    let refs = stripe_refs(txn, src, ch, pi, payout);
    line(n, kind, cat, "USD", amounts, time, refs, &format!("stripe:{txn}"))
}

#[test]
fn the_stripe_mix() {
    use LineKind::*;
    let bytes = settlement_fixture("stripe", "mix.csv");
    let m1 =
        stripe(2, Charge, "charge", (10000, 320, 9680), "2026-11-30T09:00:00Z", "txn_m1", "ch_m1", "ch_m1", "pi_m1");
    let mut expected = vec![
        m1.clone(),
        stripe(3, Charge, "charge", (5000, 175, 4825), "2026-11-30T09:30:00Z", "txn_m2", "ch_m2", "ch_m2", "pi_m2"),
        stripe(4, Charge, "charge", (2000, 88, 1912), "2026-11-30T10:15:00Z", "txn_m3", "ch_m3", "ch_m3", "pi_m3"),
        stripe(5, Refund, "refund", (-3000, 0, -3000), "2026-11-30T12:00:00Z", "txn_r1", "re_r1", "ch_m1", "pi_m1"),
        stripe(
            6,
            Dispute,
            "dispute",
            (-5000, 1500, -6500),
            "2026-11-30T13:00:00Z",
            "txn_d1",
            "du_d1",
            "ch_m2",
            "pi_m2",
        ),
        stripe(7, Charge, "charge", (4000, 146, 3854), "2026-11-30T14:00:00Z", "txn_m4", "ch_m4", "ch_m4", "pi_m4"),
        stripe(
            8,
            Charge,
            "charge",
            (1000, 59, 941),
            "2026-11-30T15:00:00Z",
            "txn_u1",
            "ch_unknown",
            "ch_unknown",
            "pi_unknown",
        ),
        stripe(9, Fee, "fee", (-200, 0, -200), "2026-11-30T16:00:00Z", "txn_f1", "", "", ""),
        SettlementLine { line_number: 10, ..m1 },
        stripe(11, Payout, "payout", (-11512, 0, -11512), "2026-11-30T23:00:00Z", "txn_p1", "po_1", "", ""),
    ];
    let available = [
        "2026-12-02",
        "2026-12-02",
        "2026-12-02",
        "2026-11-30",
        "2026-11-30",
        "2026-12-02",
        "2026-12-02",
        "2026-11-30",
        "2026-12-02",
        "2026-11-30",
    ];
    for (line, day) in expected.iter_mut().zip(available) {
        line.available_on = Some(date(day));
    }
    let lines = parsed(Provider::Stripe, &bytes);
    assert_lines(&lines, &with_raw(expected, &bytes));
    assert_eq!(lines[8].raw, lines[0].raw, "the duplicate is the first line verbatim");
    // The payout pays out exactly the net of the other non-duplicate lines.
    let paid: i64 = lines[..8].iter().map(|l| l.net_minor).sum();
    assert_eq!(lines[9].net_minor, -paid);
}

fn adyen_refs(psp: &str, modification: &str, merchant: &str) -> GatewayRefs {
    GatewayRefs {
        psp_reference: some(psp),
        modification_reference: some(modification),
        merchant_reference: some(merchant),
        payout_id: some("42"),
        ..GatewayRefs::default()
    }
}

#[allow(clippy::too_many_arguments)]
fn adyen(
    n: u32,
    kind: LineKind,
    type_: &str,
    amounts: (i64, i64, i64),
    time: &str,
    psp: &str,
    modification: &str,
    merchant: &str,
    key: &str,
) -> SettlementLine {
    line(n, kind, type_, "EUR", amounts, time, adyen_refs(psp, modification, merchant), key)
}

#[test]
fn the_adyen_mix() {
    use LineKind::*;
    let bytes = settlement_fixture("adyen", "mix.csv");
    // Creation Date is CET (UTC+1 in November).
    let m1 = adyen(
        2,
        Charge,
        "Settled",
        (10000, 320, 9680),
        "2026-11-30T09:00:00Z",
        "PSPM1",
        "PSPM1",
        "order-1001",
        "adyen:PSPM1:PSPM1:Settled",
    );
    let expected = vec![
        m1.clone(),
        adyen(
            3,
            Charge,
            "Settled",
            (5000, 175, 4825),
            "2026-11-30T09:30:00Z",
            "PSPM2",
            "PSPM2",
            "order-1002",
            "adyen:PSPM2:PSPM2:Settled",
        ),
        adyen(
            4,
            Charge,
            "Settled",
            (2000, 88, 1912),
            "2026-11-30T10:15:00Z",
            "PSPM3",
            "PSPM3",
            "order-1003",
            "adyen:PSPM3:PSPM3:Settled",
        ),
        adyen(
            5,
            Refund,
            "Refunded",
            (-3000, 0, -3000),
            "2026-11-30T12:00:00Z",
            "PSPM1",
            "PSPR1",
            "order-1001",
            "adyen:PSPM1:PSPR1:Refunded",
        ),
        adyen(
            6,
            Dispute,
            "Chargeback",
            (-5000, 1500, -6500),
            "2026-11-30T13:00:00Z",
            "PSPM2",
            "PSPD1",
            "order-1002",
            "adyen:PSPM2:PSPD1:Chargeback",
        ),
        adyen(
            7,
            Charge,
            "Settled",
            (4000, 146, 3854),
            "2026-11-30T14:00:00Z",
            "PSPM4",
            "PSPM4",
            "order-1004",
            "adyen:PSPM4:PSPM4:Settled",
        ),
        adyen(
            8,
            Charge,
            "Settled",
            (1000, 59, 941),
            "2026-11-30T15:00:00Z",
            "PSPUNK",
            "PSPUNK",
            "order-9999",
            "adyen:PSPUNK:PSPUNK:Settled",
        ),
        adyen(
            9,
            Fee,
            "Fee",
            (0, 200, -200),
            "2026-11-30T16:00:00Z",
            "",
            "Transaction Fees November 2026",
            "",
            "adyen::Transaction Fees November 2026:Fee:42",
        ),
        SettlementLine { line_number: 10, ..m1 },
        adyen(
            11,
            Payout,
            "MerchantPayout",
            (-11512, 0, -11512),
            "2026-11-30T22:30:00Z",
            "",
            "TX4242424242XT, batch 42",
            "",
            "adyen::TX4242424242XT, batch 42:MerchantPayout:42",
        ),
    ];
    let lines = parsed(Provider::Adyen, &bytes);
    assert_lines(&lines, &with_raw(expected, &bytes));
    let paid: i64 = lines[..8].iter().map(|l| l.net_minor).sum();
    assert_eq!(lines[9].net_minor, -paid);
}

#[allow(clippy::too_many_arguments)]
fn generic(
    n: u32,
    kind: LineKind,
    amounts: (i64, i64, i64),
    time: &str,
    id: &str,
    payment: &str,
    refund: &str,
    merchant: &str,
) -> SettlementLine {
    let refs = GatewayRefs {
        balance_transaction_id: some(id),
        payment_intent_id: some(payment),
        modification_reference: some(refund),
        payout_id: some("payout_1"),
        merchant_reference: some(merchant),
        ..GatewayRefs::default()
    };
    line(n, kind, kind.as_str(), "USD", amounts, time, refs, &format!("generic:{id}"))
}

#[test]
fn the_generic_mix() {
    use LineKind::*;
    let bytes = settlement_fixture("generic", "mix.csv");
    let m1 = generic(2, Charge, (10000, 320, 9680), "2026-11-30T09:00:00Z", "line_m1", "gen_m1", "", "order-1001");
    let expected = vec![
        m1.clone(),
        generic(3, Charge, (5000, 175, 4825), "2026-11-30T09:30:00Z", "line_m2", "gen_m2", "", "order-1002"),
        generic(4, Charge, (2000, 88, 1912), "2026-11-30T10:15:00Z", "line_m3", "gen_m3", "", "order-1003"),
        generic(5, Refund, (-3000, 0, -3000), "2026-11-30T12:00:00Z", "line_r1", "gen_m1", "genref_r1", "order-1001"),
        generic(6, Dispute, (-5000, 1500, -6500), "2026-11-30T13:00:00Z", "line_d1", "gen_m2", "", "order-1002"),
        generic(7, Charge, (4000, 146, 3854), "2026-11-30T14:00:00Z", "line_m4", "gen_m4", "", "order-1004"),
        generic(8, Charge, (1000, 59, 941), "2026-11-30T15:00:00Z", "line_u1", "gen_unknown", "", "order-9999"),
        generic(9, Fee, (-200, 0, -200), "2026-11-30T16:00:00Z", "line_f1", "", "", ""),
        SettlementLine { line_number: 10, ..m1 },
        generic(11, Payout, (-11512, 0, -11512), "2026-11-30T23:00:00Z", "payout_1", "", "", ""),
    ];
    let lines = parsed(Provider::Generic, &bytes);
    assert_lines(&lines, &with_raw(expected, &bytes));
    let paid: i64 = lines[..8].iter().map(|l| l.net_minor).sum();
    assert_eq!(lines[9].net_minor, -paid);
}

/// The awkward files: BOM, CRLF, a quoted cell with a comma and a line break, JPY and KWD.
#[test]
fn the_stripe_awkward_file() {
    let bytes = settlement_fixture("stripe", "awkward.csv");
    assert!(bytes.starts_with(b"\xEF\xBB\xBF") && !bytes.ends_with(b"\n"));
    let lines = parsed(Provider::Stripe, &bytes);
    let numbers: Vec<u32> = lines.iter().map(|l| l.line_number).collect();
    assert_eq!(numbers, [2, 4, 5, 6], "the quoted line break makes line 2 two physical lines");
    assert_eq!(lines[0].raw, "txn_a1,2026-11-30 08:00:00,2026-12-02,usd,75.00,2.48,72.52,charge,ch_a1,\"Order 2001, gift\r\nwrapped\",po_a,ch_a1,pi_a1");
    assert_eq!(
        (lines[0].currency, lines[0].gross_minor, lines[0].fee_minor, lines[0].net_minor),
        (cur("USD"), 7500, 248, 7252)
    );
    assert_eq!(lines[0].available_on, Some(date("2026-12-02")));
    assert_eq!(
        (lines[1].currency, lines[1].gross_minor, lines[1].fee_minor, lines[1].net_minor),
        (cur("JPY"), 1000, 36, 964)
    );
    assert_eq!((lines[1].kind, lines[1].refs.charge_id.as_deref()), (LineKind::Charge, None));
    assert_eq!(
        (lines[2].currency, lines[2].gross_minor, lines[2].fee_minor, lines[2].net_minor),
        (cur("KWD"), 1234, 34, 1200)
    );
    assert_eq!(lines[2].raw, physical_line(&bytes, 5));
    assert_eq!(lines[2].available_on, None);
    assert_eq!(
        (lines[3].kind, lines[3].category.as_str(), lines[3].net_minor),
        (LineKind::Adjustment, "risk_reserved_funds", -50)
    );
    assert_eq!(lines[3].raw, physical_line(&bytes, 6));
    assert!(lines.iter().all(|l| l.refs.payout_id.as_deref() == Some("po_a")));
}

#[test]
fn the_adyen_awkward_file() {
    let bytes = settlement_fixture("adyen", "awkward.csv");
    let lines = parsed(Provider::Adyen, &bytes);
    let numbers: Vec<u32> = lines.iter().map(|l| l.line_number).collect();
    assert_eq!(numbers, [2, 4, 5, 6, 7, 8]);
    assert!(lines[0].raw.contains("\"order 2001, gift\r\nwrapped\""), "{}", lines[0].raw);
    assert_eq!(lines[0].refs.merchant_reference.as_deref(), Some("order 2001, gift\r\nwrapped"));
    assert_eq!(lines[0].created_at, at("2026-11-30T09:00:00Z"), "Europe/Amsterdam in winter");
    assert_eq!(
        (lines[1].currency, lines[1].gross_minor, lines[1].fee_minor, lines[1].net_minor),
        (cur("JPY"), 1000, 36, 964)
    );
    assert_eq!(lines[1].created_at, at("2026-11-30T09:00:00Z"), "JST");
    assert_eq!(
        (lines[2].currency, lines[2].gross_minor, lines[2].fee_minor, lines[2].net_minor),
        (cur("KWD"), 1234, 34, 1200)
    );
    assert_eq!(lines[2].created_at, at("2026-11-30T10:00:00Z"), "PST");
    // 02:30 happens twice on 2026-10-25 in Amsterdam: the earlier, summer-time one.
    assert_eq!(lines[3].created_at, at("2026-10-25T00:30:00Z"));
    assert_eq!((lines[3].kind, lines[3].gross_minor, lines[3].net_minor), (LineKind::Refund, -500, -500));
    let misc = &lines[4];
    assert_eq!(
        (misc.kind, misc.gross_currency, misc.gross_minor, misc.fee_minor, misc.net_minor),
        (LineKind::Fee, cur("EUR"), 0, 150, -150)
    );
    assert_eq!(misc.dedupe_key, "adyen::Monthly minimum:MiscCosts:7");
    let correction = &lines[5];
    assert_eq!(
        (correction.kind, correction.gross_minor, correction.fee_minor, correction.net_minor),
        (LineKind::Adjustment, 1000, 0, 1000)
    );
    assert_eq!(correction.created_at, at("2026-11-30T21:00:00Z"));
    for line in &lines[1..] {
        assert_eq!(line.raw, physical_line(&bytes, line.line_number));
    }
}

#[test]
fn the_generic_awkward_file() {
    let bytes = settlement_fixture("generic", "awkward.csv");
    let lines = parsed(Provider::Generic, &bytes);
    let numbers: Vec<u32> = lines.iter().map(|l| l.line_number).collect();
    assert_eq!(numbers, [2, 4, 5, 6]);
    assert_eq!(lines[0].refs.merchant_reference.as_deref(), Some("order 2001, gift\r\nwrapped"));
    assert_eq!(lines[0].created_at, at("2026-11-30T09:00:00Z"));
    assert_eq!((lines[0].currency, lines[0].gross_minor), (cur("USD"), 7500), "usd in any case");
    assert_eq!(
        (lines[1].currency, lines[1].gross_minor, lines[1].fee_minor, lines[1].net_minor),
        (cur("JPY"), 1000, 36, 964)
    );
    assert_eq!(lines[1].created_at, at("2026-11-30T09:00:00Z"));
    assert_eq!(
        (lines[2].currency, lines[2].gross_minor, lines[2].fee_minor, lines[2].net_minor),
        (cur("KWD"), 1234, 34, 1200)
    );
    assert_eq!(lines[2].created_at, at("2026-11-30T10:00:00Z"));
    assert_eq!((lines[3].kind, lines[3].net_minor), (LineKind::Adjustment, -50));
    for line in &lines[1..] {
        assert_eq!(line.raw, physical_line(&bytes, line.line_number));
    }
}

/// Every bad line of the refused files is listed, with its column.
#[test]
fn the_refused_files_name_each_bad_line_and_column() {
    let stripe = refused(Provider::Stripe, &settlement_fixture("stripe", "refused.csv"));
    assert_eq!(
        places(&stripe),
        [
            (2, Some("gross")),
            (3, Some("gross")),
            (4, Some("gross")),
            (5, Some("fee")),
            (6, Some("currency")),
            (7, Some("created_utc"))
        ],
        "{:#?}",
        stripe.problems
    );
    let adyen = refused(Provider::Adyen, &settlement_fixture("adyen", "refused.csv"));
    assert_eq!(
        places(&adyen),
        [
            (2, Some("Gross Credit (GC)")),
            (3, Some("Gross Credit (GC)")),
            (4, Some("Gross Credit (GC)")),
            (5, Some("Type")),
            (6, Some("Gross Currency")),
            (7, Some("Creation Date")),
            (8, Some("Creation Date")),
        ],
        "{:#?}",
        adyen.problems
    );
    assert!(adyen.problems[6].reason.contains("skips"), "{}", adyen.problems[6].reason);
    let generic = refused(Provider::Generic, &settlement_fixture("generic", "refused.csv"));
    assert_eq!(
        places(&generic),
        [
            (2, Some("gross")),
            (3, Some("gross")),
            (4, Some("gross")),
            (5, Some("payment_reference")),
            (6, Some("currency")),
            (7, Some("created_at"))
        ],
        "{:#?}",
        generic.problems
    );
    assert!(stripe.problems[0].reason.contains("more decimals"), "{}", stripe.problems[0].reason);
    assert!(stripe.problems[3].reason.contains("empty"), "{}", stripe.problems[3].reason);
    assert!(stripe.problems[4].reason.contains("usx"), "{}", stripe.problems[4].reason);
    assert_eq!(stripe.to_string(), format!("6 problems; first: line 2 column gross: {}", stripe.problems[0].reason));
}

#[test]
fn a_missing_required_column_refuses_the_file() {
    for (provider, dir, column) in [
        (Provider::Stripe, "stripe", "net"),
        (Provider::Adyen, "adyen", "Batch Number"),
        (Provider::Generic, "generic", "type"),
    ] {
        let refusal = refused(provider, &settlement_fixture(dir, "missing_column.csv"));
        assert_eq!(places(&refusal), [(1, Some(column))], "{provider}");
        assert!(refusal.problems[0].reason.contains("missing"));
    }
}
