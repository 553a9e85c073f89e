//! Settlement reports as an attacker or a spreadsheet would write them.

use payledger_core::settlement::LineKind;
use payledger_gateways::settlement::{MAX_LINES, MAX_LINE_BYTES, MAX_PROBLEMS};
use payledger_gateways::{parse_settlement_report, Provider};

use crate::settlement_support::*;

const STRIPE_HEADER: &str = "balance_transaction_id,created_utc,currency,gross,fee,net,reporting_category,source_id";

fn stripe_file(lines: &[&str]) -> Vec<u8> {
    let mut text = format!("{STRIPE_HEADER}\n");
    for line in lines {
        text.push_str(line);
        text.push('\n');
    }
    text.into_bytes()
}

fn stripe_line(id: &str, currency: &str, gross: &str, fee: &str, net: &str) -> String {
    format!("{id},2026-11-30 10:00:00,{currency},{gross},{fee},{net},charge,ch_{id}")
}

const ADYEN_HEADER: &str = "Psp Reference,Creation Date,TimeZone,Type,Modification Reference,Gross Currency,Gross Debit (GC),Gross Credit (GC),Net Currency,Net Debit (NC),Net Credit (NC),Batch Number,Commission (NC)";

fn adyen_file(lines: &[&str]) -> Vec<u8> {
    format!("{ADYEN_HEADER}\n{}\n", lines.join("\n")).into_bytes()
}

#[test]
fn decimals_are_read_with_the_currencys_exponent() {
    let bytes = stripe_file(&[
        &stripe_line("t1", "usd", "75.00", "0.00", "75.00"),
        &stripe_line("t2", "jpy", "1000", "0", "1000"),
        &stripe_line("t3", "kwd", "1.234", "0.000", "1.234"),
        &stripe_line("t4", "USD", "-12.5", "0", "-12.5"),
    ]);
    let gross: Vec<(&str, i64)> =
        parsed(Provider::Stripe, &bytes).iter().map(|l| (l.currency.code(), l.gross_minor)).collect::<Vec<_>>();
    assert_eq!(gross, [("USD", 7500), ("JPY", 1000), ("KWD", 1234), ("USD", -1250)]);
}

#[test]
fn a_number_with_spaces_or_too_large_is_refused() {
    let bytes = stripe_file(&[
        &stripe_line("t1", "usd", " 75.00", "0.00", "75.00"),
        &stripe_line("t2", "usd", "75.00 ", "0.00", "75.00"),
        &stripe_line("t3", "usd", "10000000000000.00", "0.00", "10000000000000.00"),
        &stripe_line("t4", "usd", "1000.", "0", "1000"),
    ]);
    let refusal = refused(Provider::Stripe, &bytes);
    assert_eq!(
        places(&refusal),
        [(2, Some("gross")), (3, Some("gross")), (4, Some("gross")), (4, Some("net")), (5, Some("gross"))]
    );
}

#[test]
fn net_must_be_gross_minus_fee() {
    let bytes = stripe_file(&[&stripe_line("t1", "usd", "100.00", "3.20", "96.81")]);
    let refusal = refused(Provider::Stripe, &bytes);
    assert_eq!(places(&refusal), [(2, Some("net"))]);
    let bytes = adyen_file(&["PSP1,2026-11-30 10:00:00,CET,Settled,PSP1,EUR,,100.00,EUR,,96.81,1,3.20"]);
    let refusal = refused(Provider::Adyen, &bytes);
    assert_eq!(places(&refusal), [(2, Some("Net Credit (NC)"))]);
    assert!(refusal.problems[0].reason.contains("net is not gross minus the fees"));
    // Converted lines (gross and net in different currencies) are not checked.
    let bytes = adyen_file(&["PSP1,2026-11-30 10:00:00,CET,Settled,PSP1,USD,,100.00,EUR,,90.00,1,1.00"]);
    let line = &parsed(Provider::Adyen, &bytes)[0];
    assert_eq!(
        (line.gross_currency.code(), line.gross_minor, line.currency.code(), line.fee_minor, line.net_minor),
        ("USD", 10000, "EUR", 100, 9000)
    );
}

#[test]
fn adyen_cells_each_line_kind_needs() {
    let bytes = adyen_file(&[
        ",2026-11-30 10:00:00,CET,Settled,PSP1,EUR,,100.00,EUR,,100.00,1,",
        "PSP2,2026-11-30 10:00:00,CET,Settled,PSP2,EUR,,,EUR,,100.00,1,",
        "PSP3,2026-11-30 10:00:00,CET,Settled,PSP3,EUR,,100.00,EUR,,,1,",
        "PSP4,2026-11-30 10:00:00,Mars/Olympus,Settled,PSP4,EUR,,100.00,EUR,,100.00,1,",
        "PSP5,2026-11-30 10:00:00,CET,Settled,PSP5,EUR,,100.00,EUR,,100.00,,",
        "PSP6,2026-11-30 10:00:00,cet,Settled,PSP6,EUR,,100.00,EUR,,100.00,1,",
    ]);
    let refusal = refused(Provider::Adyen, &bytes);
    assert_eq!(
        places(&refusal),
        [
            (2, Some("Psp Reference")),
            (3, Some("Gross Debit (GC)")),
            (4, Some("Net Debit (NC)")),
            (5, Some("TimeZone")),
            (6, Some("Batch Number")),
            (7, Some("TimeZone")),
        ],
        "{:#?}",
        refusal.problems
    );
}

#[test]
fn adyen_time_zones_by_name_and_abbreviation() {
    let cases = [
        ("UTC", "2026-07-01T10:00:00Z"),
        ("GMT", "2026-07-01T10:00:00Z"),
        ("CET", "2026-07-01T08:00:00Z"),
        ("CEST", "2026-07-01T08:00:00Z"),
        ("Europe/Amsterdam", "2026-07-01T08:00:00Z"),
        ("PDT", "2026-07-01T17:00:00Z"),
        ("America/Los_Angeles", "2026-07-01T17:00:00Z"),
        ("EST", "2026-07-01T15:00:00Z"),
    ];
    for (zone, utc) in cases {
        let bytes = adyen_file(&[&format!("PSP1,2026-07-01 10:00:00,{zone},Settled,PSP1,EUR,,1.00,EUR,,1.00,1,")]);
        assert_eq!(parsed(Provider::Adyen, &bytes)[0].created_at, at(utc), "{zone}");
    }
}

#[test]
fn adyen_keys_of_lines_without_a_payment_carry_the_batch_and_never_collide() {
    let bytes = adyen_file(&[
        "A:B,2026-11-30 10:00:00,CET,Settled,C,EUR,,1.00,EUR,,1.00,1,",
        "A,2026-11-30 10:00:00,CET,Settled,B:C,EUR,,1.00,EUR,,1.00,1,",
        ",2026-11-30 10:00:00,CET,Balancetransfer,T1,EUR,,,EUR,,1.00,7,",
    ]);
    let keys: Vec<String> = parsed(Provider::Adyen, &bytes).into_iter().map(|l| l.dedupe_key).collect();
    assert_eq!(keys, ["adyen:A%3AB:C:Settled", "adyen:A:B%3AC:Settled", "adyen::T1:Balancetransfer:7"]);
}

#[test]
fn a_nul_byte_anywhere_is_refused() {
    let line = stripe_line("t1", "usd", "1.00", "0.00", "1.00").replace("ch_t1", "ch_\0t1");
    let refusal = refused(Provider::Stripe, &stripe_file(&[&line]));
    assert_eq!(places(&refusal), [(2, Some("source_id"))]);
    let header = STRIPE_HEADER.replace("source_id", "source\0id");
    let refusal = refused(Provider::Stripe, format!("{header}\n").as_bytes());
    assert_eq!(places(&refusal), [(1, None)]);
}

#[test]
fn a_huge_cell_or_line_is_refused() {
    let ok = stripe_line("t1", "usd", "1.00", "0.00", "1.00").replace("ch_t1", &"c".repeat(255));
    assert_eq!(parsed(Provider::Stripe, &stripe_file(&[&ok]))[0].refs.source_id.as_deref().map(str::len), Some(255));
    let long = stripe_line("t1", "usd", "1.00", "0.00", "1.00").replace("ch_t1", &"c".repeat(256));
    assert_eq!(places(&refused(Provider::Stripe, &stripe_file(&[&long]))), [(2, Some("source_id"))]);
    // An ignored column is not bounded by itself, but the line is.
    let header = format!("{STRIPE_HEADER},description\n");
    let line = format!("{},{}\n", stripe_line("t1", "usd", "1.00", "0.00", "1.00"), "d".repeat(MAX_LINE_BYTES));
    let refusal = refused(Provider::Stripe, format!("{header}{line}").as_bytes());
    assert_eq!(places(&refusal), [(2, None)]);
}

#[test]
fn more_than_the_maximum_of_lines_is_refused() {
    // Cheap lines: each has the wrong number of cells, and that is all the parser checks.
    let file = |lines: usize| format!("{STRIPE_HEADER}\n{}", "x\n".repeat(lines)).into_bytes();
    let refusal = refused(Provider::Stripe, &file(MAX_LINES + 1));
    assert_eq!(refusal.problems.len(), 1);
    assert!(refusal.problems[0].reason.contains("more than 1000000 data lines"), "{}", refusal.problems[0].reason);
    assert_eq!(refusal.problems[0].line, u32::try_from(MAX_LINES).unwrap() + 2);
    let refusal = refused(Provider::Stripe, &file(MAX_LINES));
    assert!(refusal.problems.iter().all(|p| !p.reason.contains("data lines")));
}

#[test]
fn every_problem_is_listed_up_to_the_cap() {
    let bad = stripe_line("t", "usd", "1.001", "0.00", "1.00");
    let lines: Vec<&str> = std::iter::repeat_n(bad.as_str(), 1500).collect();
    let refusal = refused(Provider::Stripe, &stripe_file(&lines));
    assert_eq!(refusal.problems.len(), MAX_PROBLEMS);
    assert_eq!(refusal.problems[998].line, 1000);
    let last = refusal.problems.last().unwrap();
    assert_eq!((last.line, last.column.as_deref(), last.reason.as_str()), (1001, None, "and 501 more problems"));
    let two = stripe_file(&[&bad, &stripe_line("t2", "usd", "1.00", "0.00", "1.00"), &bad]);
    assert_eq!(places(&refused(Provider::Stripe, &two)), [(2, Some("gross")), (4, Some("gross"))]);
}

#[test]
fn duplicate_header_names_are_refused() {
    let header = format!("{STRIPE_HEADER},gross\n");
    let refusal = refused(Provider::Stripe, header.as_bytes());
    assert_eq!(places(&refusal), [(1, Some("gross"))]);
}

#[test]
fn a_header_only_file_has_no_lines_and_an_empty_file_is_refused() {
    for bytes in [format!("{STRIPE_HEADER}\n"), format!("\u{feff}{STRIPE_HEADER}\r\n"), STRIPE_HEADER.to_owned()] {
        assert_eq!(parse_settlement_report(Provider::Stripe, bytes.as_bytes()), Ok(Vec::new()), "{bytes:?}");
    }
    for bytes in ["", "\u{feff}", "\n", "\r\n\r\n"] {
        let refusal = refused(Provider::Stripe, bytes.as_bytes());
        assert_eq!(places(&refusal), [(1, None)], "{bytes:?}");
        assert!(refusal.problems[0].reason.contains("empty"));
    }
}

#[test]
fn bad_lines_are_refused_and_good_ones_keep_their_physical_numbers() {
    let good = stripe_line("t1", "usd", "1.00", "0.00", "1.00");
    let mut bytes = format!("{STRIPE_HEADER}\nx,y\n").into_bytes();
    bytes.extend_from_slice(b"t2,2026-11-30 10:00:00,usd,1.00,0.00,1.00,charge,ch_\xff\n");
    let refusal = refused(Provider::Stripe, &bytes);
    assert_eq!(places(&refusal), [(2, None), (3, None)]);
    assert!(refusal.problems[0].reason.contains("2 cells"), "{}", refusal.problems[0].reason);
    assert!(refusal.problems[1].reason.contains("UTF-8"), "{}", refusal.problems[1].reason);
    // A blank line is skipped but counted; a lone CR ends a line too.
    let bytes = format!("{STRIPE_HEADER}\n\n{good}\r{good}\r\n\r\n{good}");
    let numbers: Vec<u32> = parsed(Provider::Stripe, bytes.as_bytes()).iter().map(|l| l.line_number).collect();
    assert_eq!(numbers, [3, 4, 6]);
}

#[test]
fn stripe_categories_map_to_kinds_and_a_payout_names_itself() {
    let cases = [
        ("payment", LineKind::Charge),
        ("payment_refund", LineKind::Refund),
        ("refund_failure", LineKind::Refund),
        ("dispute_reversal", LineKind::DisputeReversal),
        ("network_cost", LineKind::Fee),
        ("tax", LineKind::Fee),
        ("payout_reversal", LineKind::Payout),
        ("other_adjustment", LineKind::Adjustment),
    ];
    for (category, kind) in cases {
        let line = stripe_line("t1", "usd", "1.00", "0.00", "1.00").replace("charge", category);
        let parsed = &parsed(Provider::Stripe, &stripe_file(&[&line]))[0];
        assert_eq!((parsed.kind, parsed.category.as_str()), (kind, category));
    }
    let line = stripe_line("t1", "usd", "-1.00", "0.00", "-1.00").replace("charge,ch_t1", "payout,po_9");
    assert_eq!(parsed(Provider::Stripe, &stripe_file(&[&line]))[0].refs.payout_id.as_deref(), Some("po_9"));
}

#[test]
fn generic_types_and_references() {
    let header = "line_id,created_at,type,currency,gross,fee,net,payment_reference,refund_reference";
    let bytes = format!(
        "{header}\n\
         g1,2026-11-30T10:00:00Z,Charge,USD,1.00,0.00,1.00,p1,\n\
         g2,2026-11-30T10:00:00Z,refund,USD,-1.00,0.00,-1.00,p1,\n\
         g3,2026-11-30T10:00:00,charge,USD,1.00,0.00,1.00,p1,\n\
         g4,2026-11-30T10:00:00Z,dispute_reversal,USD,1.00,0.00,1.00,p1,\n"
    );
    let refusal = refused(Provider::Generic, bytes.as_bytes());
    assert_eq!(places(&refusal), [(2, Some("type")), (3, Some("refund_reference")), (4, Some("created_at"))]);
}
