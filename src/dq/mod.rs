//! Data-quality statistics: distribution drift (PSI/KL with quantile and categorical binning),
//! volume anomaly detection (robust z-score on median/MAD with weekday seasonality) and the NAB
//! benchmark loader and scorer that measures the detector on public labelled data.

pub mod divergence;
pub mod nab;
pub mod volume;
