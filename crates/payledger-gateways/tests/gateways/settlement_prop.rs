//! A generated Stripe report reads back to exactly the generated values, whatever the
//! column order, the extra columns and the line endings.

use payledger_core::settlement::LineKind;
use payledger_gateways::Provider;
use proptest::prelude::*;

use crate::settlement_support::*;

const REQUIRED: [&str; 7] =
    ["balance_transaction_id", "created_utc", "currency", "gross", "fee", "net", "reporting_category"];
const OPTIONAL: [&str; 3] = ["source_id", "automatic_payout_id", "payment_intent_id"];
const EXTRA: [&str; 3] = ["description", "customer_email", "payment_metadata[order_id]"];
const CATEGORIES: [(&str, LineKind); 4] = [
    ("charge", LineKind::Charge),
    ("refund", LineKind::Refund),
    ("fee", LineKind::Fee),
    ("adjustment", LineKind::Adjustment),
];

#[derive(Debug, Clone)]
struct Generated {
    gross_minor: i64,
    fee_minor: i64,
    category: usize,
    currency: usize,
    seconds: u32,
}

fn generated() -> impl Strategy<Value = Generated> {
    (-99_999_999_999i64..=99_999_999_999, -9_999_999i64..=9_999_999, 0..CATEGORIES.len(), 0..3usize, 0..86_400u32)
        .prop_map(|(gross_minor, fee_minor, category, currency, seconds)| Generated {
            gross_minor,
            fee_minor,
            category,
            currency,
            seconds,
        })
}

/// `minor` written in major units with `exponent` decimals.
fn major(minor: i64, exponent: u32) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let scale = 10i64.pow(exponent);
    let (whole, fraction) = (minor.abs() / scale, minor.abs() % scale);
    if exponent == 0 {
        format!("{sign}{whole}")
    } else {
        format!("{sign}{whole}.{fraction:0width$}", width = exponent as usize)
    }
}

fn cell(column: &str, index: usize, line: &Generated, extra: &str) -> String {
    let (code, exponent) = [("usd", 2), ("JPY", 0), ("kwd", 3)][line.currency];
    let time = format!("2026-11-30 {:02}:{:02}:{:02}", line.seconds / 3600, line.seconds / 60 % 60, line.seconds % 60);
    match column {
        "balance_transaction_id" => format!("txn_{index}"),
        "created_utc" => time,
        "currency" => code.to_owned(),
        "gross" => major(line.gross_minor, exponent),
        "fee" => major(line.fee_minor, exponent),
        "net" => major(line.gross_minor - line.fee_minor, exponent),
        "reporting_category" => CATEGORIES[line.category].0.to_owned(),
        "source_id" => format!("src_{index}"),
        "automatic_payout_id" => "po_x".to_owned(),
        "payment_intent_id" => format!("pi_{index}"),
        _ => format!("\"{extra}, \"\"{index}\"\"\""),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn a_generated_stripe_report_reads_back(
        lines in proptest::collection::vec(generated(), 0..20),
        columns in Just(REQUIRED.iter().chain(&OPTIONAL).chain(&EXTRA).copied().collect::<Vec<_>>()).prop_shuffle(),
        keep in proptest::collection::vec(any::<bool>(), OPTIONAL.len() + EXTRA.len()),
        crlf in any::<bool>(),
        final_newline in any::<bool>(),
        extra in "[a-z ]{0,12}",
    ) {
        // Each optional or extra column is kept or left out; the required ones always stay.
        let optional: Vec<&str> = OPTIONAL.iter().chain(&EXTRA).copied().collect();
        let columns: Vec<&str> = columns
            .into_iter()
            .filter(|c| optional.iter().position(|o| o == c).is_none_or(|i| keep[i]))
            .collect();
        let terminator = if crlf { "\r\n" } else { "\n" };
        let mut rows = vec![columns.join(",")];
        for (index, line) in lines.iter().enumerate() {
            rows.push(columns.iter().map(|c| cell(c, index, line, &extra)).collect::<Vec<_>>().join(","));
        }
        let mut text = rows.join(terminator);
        if final_newline {
            text.push_str(terminator);
        }
        let parsed = parsed(Provider::Stripe, text.as_bytes());
        prop_assert_eq!(parsed.len(), lines.len());
        let has = |column: &str| columns.contains(&column);
        for (index, (line, got)) in lines.iter().zip(&parsed).enumerate() {
            let code = ["USD", "JPY", "KWD"][line.currency];
            prop_assert_eq!(got.line_number as usize, index + 2);
            prop_assert_eq!(&got.raw, &rows[index + 1]);
            prop_assert_eq!(got.currency, cur(code));
            prop_assert_eq!((got.gross_minor, got.fee_minor, got.net_minor), (line.gross_minor, line.fee_minor, line.gross_minor - line.fee_minor));
            prop_assert_eq!(got.kind, CATEGORIES[line.category].1);
            prop_assert_eq!(got.created_at.timestamp() - at("2026-11-30T00:00:00Z").timestamp(), i64::from(line.seconds));
            prop_assert_eq!(&got.dedupe_key, &format!("stripe:txn_{index}"));
            prop_assert_eq!(got.refs.source_id.clone(), has("source_id").then(|| format!("src_{index}")));
            prop_assert_eq!(got.refs.payment_intent_id.clone(), has("payment_intent_id").then(|| format!("pi_{index}")));
            prop_assert_eq!(got.refs.payout_id.clone(), has("automatic_payout_id").then(|| "po_x".to_owned()));
        }
    }
}
