//! AWS clients from the SDK's credential chain (environment, profiles, SSO, credential_process, IMDS …), with the
//! profile's region and retry settings. `AWS_ENDPOINT_URL` (or `AWS_ENDPOINT_URL_GLUE`) points them at a stand-in.

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};

use crate::profile::{GlueProfile, RetryMode};

/// The clients a Glue target uses.
#[derive(Clone, Debug)]
pub struct Clients {
    /// The SDK configuration of the API calls (credentials, region, retries): the session role's with
    /// `use_interactive_session_role_for_api_calls`, else the caller's.
    pub config: SdkConfig,
    /// Glue for the API calls: the Data Catalog (and, from `config`, S3 and Lake Formation).
    pub glue: aws_sdk_glue::Client,
    /// Glue for the interactive sessions and their statements, always with the caller's credentials (the reference
    /// assumes the session role for its catalog calls only: the caller is who may create sessions and pass the role).
    pub sessions: aws_sdk_glue::Client,
    /// S3: staging copies glue-rs owns.
    pub s3: aws_sdk_s3::Client,
}

impl Clients {
    /// Loads the SDK configuration for the profile. Throttling and transient errors are retried by the SDK with
    /// exponential backoff (`boto_retry_mode`, `boto_retry_max_attempts`); with
    /// `use_interactive_session_role_for_api_calls` the API calls (catalog, S3, Lake Formation) run as the session
    /// role (STS AssumeRole), the session calls as the caller.
    pub async fn load(profile: &GlueProfile) -> Clients {
        // Every mode maps to the SDK's standard retries (exponential backoff with jitter from 100 ms): the Rust SDK's
        // adaptive mode, botocore's default, holds every call of the process for up to 20 s after a single throttled
        // call and then spaces calls 2 s apart, which turns a few throttles into minutes.
        let retry = match profile.retry_mode {
            RetryMode::Adaptive | RetryMode::Standard | RetryMode::Legacy => RetryConfig::standard(),
        }
        .with_initial_backoff(std::time::Duration::from_millis(100))
        .with_max_attempts(profile.retry_max_attempts.max(1));
        let mut loader = aws_config::defaults(BehaviorVersion::latest()).retry_config(retry);
        if let Some(name) = &profile.aws_profile {
            // The named profile's credentials, ahead of the environment's (boto3's Session(profile_name=…)), and its
            // region unless the profile sets one.
            loader = loader.profile_name(name).credentials_provider(
                aws_config::profile::ProfileFileCredentialsProvider::builder()
                    .profile_name(name)
                    .build(),
            );
        }
        if let Some(r) = &profile.region {
            loader = loader.region(Region::new(r.clone()));
        }
        let mut config = loader.load().await;
        let sessions = aws_sdk_glue::Client::new(&config);
        if profile.use_session_role_for_api_calls
            && let Some(role) = &profile.role_arn
        {
            let provider = aws_config::sts::AssumeRoleProvider::builder(role.clone())
                .session_name("glue-rs")
                .configure(&config)
                .build()
                .await;
            config = config
                .into_builder()
                .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(provider))
                .build();
        }
        Clients {
            glue: aws_sdk_glue::Client::new(&config),
            sessions,
            // A stand-in endpoint (moto, the simulator) serves buckets by path, not by host name.
            s3: aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(&config)
                    .force_path_style(config.endpoint_url().is_some())
                    .build(),
            ),
            config,
        }
    }
}
