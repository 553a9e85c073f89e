use std::path::PathBuf;

use payledger_gateways::{Provider, WebhookSecret};

/// Secret used to sign Stripe/generic fixtures at run time.
pub const STRIPE_SECRET: &str = "whsec_payledger_fixture_secret";
/// Key the Adyen fixtures are signed with (Adyen's public library sample key).
pub const ADYEN_KEY: &str = "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056";

pub const NOW: i64 = 1_700_000_000;
pub const TOLERANCE: i64 = 300;

pub fn fixtures_dir(provider: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/webhooks").join(provider)
}

pub fn fixture(provider: &str, name: &str) -> Vec<u8> {
    let path = fixtures_dir(provider).join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn secret(provider: Provider, value: &str) -> WebhookSecret {
    WebhookSecret::new(provider, value).unwrap()
}

pub fn header_name(provider: Provider) -> &'static str {
    match provider {
        Provider::Stripe => payledger_gateways::STRIPE_SIGNATURE_HEADER,
        Provider::Generic => payledger_gateways::GENERIC_SIGNATURE_HEADER,
        Provider::Adyen => unreachable!("adyen signs in the body"),
    }
}
