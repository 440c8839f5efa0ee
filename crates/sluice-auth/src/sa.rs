//! ServiceAccount tokens: ES256 JWTs with the claims of kube-apiserver's bound tokens
//! (kubernetes pkg/serviceaccount/claims.go): `iss`, `aud`, `sub`
//! (`system:serviceaccount:NS:NAME`), `exp`/`nbf`/`iat`, `jti` and the private
//! `kubernetes.io` claim `{namespace, serviceaccount{name,uid}, pod?{name,uid}}`. Validation
//! accepts a token whose issuer is the server's, one of whose audiences the server accepts
//! (`--api-audiences`, the issuer by default), and whose `exp`/`nbf` hold (go-jose's one
//! minute of leeway, as upstream); that the ServiceAccount (and pod) still exist with those
//! uids is the caller's check, against its store.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::UserInfo;

#[derive(Debug, thiserror::Error)]
pub enum SaError {
    #[error("invalid signing key: {0}")]
    Key(String),
    #[error("{0}")]
    Token(String),
}

/// A named object and its uid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Ref {
    pub name: String,
    pub uid: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct KubeClaims {
    pub namespace: String,
    pub serviceaccount: Ref,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<Ref>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: Vec<String>,
    pub sub: String,
    pub exp: i64,
    pub nbf: i64,
    pub iat: i64,
    #[serde(default)]
    pub jti: String,
    #[serde(rename = "kubernetes.io")]
    pub kubernetes: KubeClaims,
}

impl Claims {
    /// The user the token authenticates (kubernetes pkg/serviceaccount/util.go `UserInfo`):
    /// the ServiceAccount's username, uid and groups, the pod in `extra`.
    pub fn user(&self) -> UserInfo {
        let k = &self.kubernetes;
        let mut u = UserInfo {
            username: crate::rbac::service_account_username(&k.namespace, &k.serviceaccount.name),
            uid: k.serviceaccount.uid.clone(),
            groups: vec![
                "system:serviceaccounts".to_owned(),
                format!("system:serviceaccounts:{}", k.namespace),
            ],
            extra: Default::default(),
        };
        if let Some(p) = &k.pod {
            u.extra.insert(
                "authentication.kubernetes.io/pod-name".into(),
                vec![p.name.clone()],
            );
            u.extra.insert(
                "authentication.kubernetes.io/pod-uid".into(),
                vec![p.uid.clone()],
            );
        }
        if !self.jti.is_empty() {
            u.extra.insert(
                "authentication.kubernetes.io/credential-id".into(),
                vec![format!("JTI={}", self.jti)],
            );
        }
        u
    }
}

/// Signs and checks ServiceAccount tokens with one P-256 key.
pub struct Signer {
    pub issuer: String,
    /// Audiences a presented token must name one of (`--api-audiences`).
    pub audiences: Vec<String>,
    enc: EncodingKey,
    dec: DecodingKey,
}

/// A new P-256 key, PKCS#8 DER (what the server keeps in DATA/sa.key).
pub fn generate_key() -> Result<Vec<u8>, SaError> {
    let rng = ring::rand::SystemRandom::new();
    ring::signature::EcdsaKeyPair::generate_pkcs8(
        &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        &rng,
    )
    .map(|d| d.as_ref().to_vec())
    .map_err(|e| SaError::Key(e.to_string()))
}

impl Signer {
    /// A signer from a PKCS#8 DER P-256 key.
    pub fn new(pkcs8: &[u8], issuer: &str, audiences: Vec<String>) -> Result<Self, SaError> {
        let rng = ring::rand::SystemRandom::new();
        let pair = ring::signature::EcdsaKeyPair::from_pkcs8(
            &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            pkcs8,
            &rng,
        )
        .map_err(|e| SaError::Key(e.to_string()))?;
        use ring::signature::KeyPair;
        let public = pair.public_key().as_ref().to_vec();
        let audiences = if audiences.is_empty() {
            vec![issuer.to_owned()]
        } else {
            audiences
        };
        Ok(Signer {
            issuer: issuer.to_owned(),
            audiences,
            enc: EncodingKey::from_ec_der(pkcs8),
            dec: DecodingKey::from_ec_der(&public),
        })
    }

    /// A token for ServiceAccount `namespace/sa` valid from `now` for `seconds`.
    pub fn issue(
        &self,
        kubernetes: KubeClaims,
        audiences: &[String],
        now: i64,
        seconds: i64,
        jti: &str,
    ) -> Result<String, SaError> {
        let claims = Claims {
            iss: self.issuer.clone(),
            aud: if audiences.is_empty() {
                self.audiences.clone()
            } else {
                audiences.to_vec()
            },
            sub: crate::rbac::service_account_username(
                &kubernetes.namespace,
                &kubernetes.serviceaccount.name,
            ),
            exp: now + seconds,
            nbf: now,
            iat: now,
            jti: jti.to_owned(),
            kubernetes,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::ES256), &claims, &self.enc)
            .map_err(|e| SaError::Token(e.to_string()))
    }

    /// Signs any claims with the server's key (ES256): Argo CD project role tokens.
    pub fn sign<T: Serialize>(&self, claims: &T) -> Result<String, SaError> {
        jsonwebtoken::encode(&Header::new(Algorithm::ES256), claims, &self.enc)
            .map_err(|e| SaError::Token(e.to_string()))
    }

    /// Checks a token's signature by the server's key and its issuer, nothing else: the
    /// caller checks the times its kind of token has.
    pub fn decode<T: serde::de::DeserializeOwned>(
        &self,
        token: &str,
        issuer: &str,
    ) -> Result<T, SaError> {
        let mut v = Validation::new(Algorithm::ES256);
        v.set_issuer(&[issuer]);
        v.validate_exp = false;
        v.validate_nbf = false;
        v.validate_aud = false;
        v.set_required_spec_claims(&["iss", "sub"]);
        jsonwebtoken::decode::<T>(token, &self.dec, &v)
            .map(|d| d.claims)
            .map_err(|e| SaError::Token(format!("invalid token: {e}")))
    }

    /// Whether `token` looks like one of ours (a JWT whose issuer is ours), so that other
    /// authenticators may try tokens that are not.
    pub fn is_ours(&self, token: &str) -> bool {
        let mut v = Validation::new(Algorithm::ES256);
        v.insecure_disable_signature_validation();
        v.validate_exp = false;
        v.validate_aud = false;
        v.required_spec_claims.clear();
        jsonwebtoken::decode::<serde_json::Value>(token, &DecodingKey::from_secret(b""), &v)
            .ok()
            .is_some_and(|d| {
                d.claims.get("iss").and_then(|i| i.as_str()) == Some(self.issuer.as_str())
            })
    }

    /// Checks signature, issuer, audience and time at `now` (seconds since the epoch).
    pub fn verify(&self, token: &str, now: i64) -> Result<Claims, SaError> {
        let mut v = Validation::new(Algorithm::ES256);
        v.set_issuer(&[&self.issuer]);
        v.set_audience(&self.audiences);
        v.validate_exp = false; // checked below against `now`, not the wall clock
        v.validate_nbf = false;
        v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let data = jsonwebtoken::decode::<Claims>(token, &self.dec, &v).map_err(|e| {
            SaError::Token(match e.kind() {
                jsonwebtoken::errors::ErrorKind::InvalidAudience => {
                    "token audiences is invalid".into()
                }
                jsonwebtoken::errors::ErrorKind::InvalidIssuer => "token issuer is invalid".into(),
                jsonwebtoken::errors::ErrorKind::InvalidSignature => "invalid signature".into(),
                _ => format!("invalid token: {e}"),
            })
        })?;
        let c = data.claims;
        const LEEWAY: i64 = 60;
        if now > c.exp + LEEWAY {
            return Err(SaError::Token("service account token has expired".into()));
        }
        if now + LEEWAY < c.nbf {
            return Err(SaError::Token(
                "service account token is not valid yet".into(),
            ));
        }
        if c.sub
            != crate::rbac::service_account_username(
                &c.kubernetes.namespace,
                &c.kubernetes.serviceaccount.name,
            )
        {
            return Err(SaError::Token(
                "token subject does not match its kubernetes.io claims".into(),
            ));
        }
        Ok(c)
    }
}
