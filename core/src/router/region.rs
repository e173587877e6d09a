//! Where the providers' public regions are, for nearest-region routing and
//! residency: region name → coordinates of its metro and its country. Names
//! as the clouds write them (AWS `eu-central-1`, Google `europe-west4`,
//! Azure `swedencentral`); `local` is a model on this machine's network.

/// (name, latitude, longitude, ISO country)
const REGIONS: &[(&str, f32, f32, &str)] = &[
    // AWS (Bedrock, and the Lambda shell's own AWS_REGION)
    ("us-east-1", 38.9, -77.4, "US"),
    ("us-east-2", 40.0, -83.0, "US"),
    ("us-west-1", 37.4, -121.9, "US"),
    ("us-west-2", 45.8, -119.7, "US"),
    ("us-gov-west-1", 45.8, -119.7, "US"),
    ("ca-central-1", 45.5, -73.6, "CA"),
    ("sa-east-1", -23.5, -46.6, "BR"),
    ("eu-west-1", 53.3, -6.3, "IE"),
    ("eu-west-2", 51.5, -0.1, "GB"),
    ("eu-west-3", 48.9, 2.35, "FR"),
    ("eu-central-1", 50.1, 8.7, "DE"),
    ("eu-central-2", 47.4, 8.5, "CH"),
    ("eu-north-1", 59.3, 18.1, "SE"),
    ("eu-south-1", 45.5, 9.2, "IT"),
    ("eu-south-2", 41.6, -0.9, "ES"),
    ("il-central-1", 32.1, 34.8, "IL"),
    ("me-central-1", 25.2, 55.3, "AE"),
    ("af-south-1", -33.9, 18.4, "ZA"),
    ("ap-south-1", 19.1, 72.9, "IN"),
    ("ap-east-1", 22.3, 114.2, "HK"),
    ("ap-southeast-1", 1.35, 103.8, "SG"),
    ("ap-southeast-2", -33.9, 151.2, "AU"),
    ("ap-northeast-1", 35.7, 139.7, "JP"),
    ("ap-northeast-2", 37.6, 127.0, "KR"),
    ("ap-northeast-3", 34.7, 135.5, "JP"),
    // Google Cloud (Vertex AI)
    ("us-central1", 41.3, -95.9, "US"),
    ("us-east1", 33.2, -80.0, "US"),
    ("us-east4", 39.0, -77.5, "US"),
    ("us-east5", 40.0, -83.0, "US"),
    ("us-south1", 32.8, -96.8, "US"),
    ("us-west1", 45.6, -121.2, "US"),
    ("us-west4", 36.2, -115.1, "US"),
    ("northamerica-northeast1", 45.5, -73.6, "CA"),
    ("southamerica-east1", -23.5, -46.6, "BR"),
    ("europe-west1", 50.4, 3.8, "BE"),
    ("europe-west2", 51.5, -0.1, "GB"),
    ("europe-west3", 50.1, 8.7, "DE"),
    ("europe-west4", 53.4, 6.8, "NL"),
    ("europe-west6", 47.4, 8.5, "CH"),
    ("europe-west8", 45.5, 9.2, "IT"),
    ("europe-west9", 48.9, 2.35, "FR"),
    ("europe-north1", 60.6, 27.2, "FI"),
    ("europe-central2", 52.2, 21.0, "PL"),
    ("europe-southwest1", 40.4, -3.7, "ES"),
    ("me-central1", 25.3, 51.5, "QA"),
    ("asia-south1", 19.1, 72.9, "IN"),
    ("asia-southeast1", 1.35, 103.8, "SG"),
    ("asia-east1", 24.1, 120.5, "TW"),
    ("asia-northeast1", 35.7, 139.7, "JP"),
    ("asia-northeast3", 37.6, 127.0, "KR"),
    ("australia-southeast1", -33.9, 151.2, "AU"),
    // Azure (Azure OpenAI, Azure AI)
    ("eastus", 37.4, -79.4, "US"),
    ("eastus2", 36.7, -78.4, "US"),
    ("centralus", 41.6, -93.6, "US"),
    ("northcentralus", 41.9, -87.6, "US"),
    ("southcentralus", 29.4, -98.5, "US"),
    ("westus", 37.8, -122.4, "US"),
    ("westus2", 47.2, -119.9, "US"),
    ("westus3", 33.4, -112.1, "US"),
    ("canadacentral", 43.7, -79.4, "CA"),
    ("canadaeast", 46.8, -71.2, "CA"),
    ("brazilsouth", -23.6, -46.6, "BR"),
    ("northeurope", 53.3, -6.3, "IE"),
    ("westeurope", 52.4, 4.9, "NL"),
    ("uksouth", 51.5, -0.1, "GB"),
    ("francecentral", 46.3, 2.4, "FR"),
    ("germanywestcentral", 50.1, 8.7, "DE"),
    ("swedencentral", 60.7, 17.1, "SE"),
    ("switzerlandnorth", 47.5, 8.6, "CH"),
    ("norwayeast", 59.9, 10.8, "NO"),
    ("polandcentral", 52.2, 21.0, "PL"),
    ("italynorth", 45.5, 9.2, "IT"),
    ("spaincentral", 40.4, -3.7, "ES"),
    ("uaenorth", 25.3, 55.3, "AE"),
    ("southafricanorth", -25.7, 28.2, "ZA"),
    ("centralindia", 18.6, 73.9, "IN"),
    ("southindia", 12.9, 80.2, "IN"),
    ("southeastasia", 1.3, 103.8, "SG"),
    ("eastasia", 22.3, 114.2, "HK"),
    ("japaneast", 35.7, 139.8, "JP"),
    ("koreacentral", 37.6, 127.0, "KR"),
    ("australiaeast", -33.9, 151.2, "AU"),
];

/// EU member states: what residency `eu` allows.
const EU: &[&str] = &[
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV",
    "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",
];

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Place {
    pub lat: f64,
    pub lon: f64,
}

/// A region's metro and country, by its cloud name (case-insensitive).
pub fn lookup(region: &str) -> Option<(Place, &'static str)> {
    REGIONS
        .iter()
        .find(|(name, ..)| name.eq_ignore_ascii_case(region.trim()))
        .map(|&(_, lat, lon, country)| {
            (
                Place {
                    lat: f64::from(lat),
                    lon: f64::from(lon),
                },
                country,
            )
        })
}

/// Straight-line (chord) distance in km through the Earth: it orders
/// places exactly as the great-circle distance does, and needs no inverse
/// trigonometry (libm's adds ~5 KB to the Worker).
pub fn distance_km(a: Place, b: Place) -> f64 {
    let unit = |p: Place| {
        let (lat, lon) = (p.lat.to_radians(), p.lon.to_radians());
        let (sl, cl) = sin_cos(lat);
        let (so, co) = sin_cos(lon);
        (cl * co, cl * so, sl)
    };
    let (x1, y1, z1) = unit(a);
    let (x2, y2, z2) = unit(b);
    let d2 = (x1 - x2).powi(2) + (y1 - y2).powi(2) + (z1 - z2).powi(2);
    6_371.0 * d2.sqrt()
}

/// sin and cos of `x` in [-π, π] by their Taylor series to x¹⁹ (error
/// below 1e-6 there), enough to rank distances.
fn sin_cos(x: f64) -> (f64, f64) {
    let x2 = x * x;
    let (mut s, mut c) = (0.0, 0.0);
    let (mut ts, mut tc) = (x, 1.0);
    for n in 0..10 {
        s += ts;
        c += tc;
        let k = f64::from(2 * n + 2);
        ts *= -x2 / (k * (k + 1.0));
        tc *= -x2 / ((k - 1.0) * k);
    }
    (s, c)
}

/// Whether a deployment in `region` may serve a request under `policy`:
/// `eu`, `us`, an ISO country code, or a region name, comma-separated.
/// A deployment without a known region is allowed only by its own `local`.
pub fn allowed(policy: &str, region: Option<&str>) -> bool {
    let Some(region) = region.map(str::trim) else {
        return false;
    };
    let country = lookup(region).map(|(_, c)| c);
    policy.split(',').map(str::trim).any(|rule| {
        rule.eq_ignore_ascii_case(region)
            || match (rule.to_ascii_lowercase().as_str(), country) {
                ("eu", Some(c)) => EU.contains(&c),
                (_, Some(c)) => rule.eq_ignore_ascii_case(c),
                _ => false,
            }
    })
}

/// `lat,lon` as the shells pass where a request landed (`x-dx-geo`).
pub fn parse_place(text: &str) -> Option<Place> {
    let mut it = text.split(',').map(|s| s.trim().parse::<f64>());
    let (Some(Ok(lat)), Some(Ok(lon))) = (it.next(), it.next()) else {
        return None;
    };
    ((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon)).then_some(Place { lat, lon })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_between_known_metros() {
        let fra = lookup("eu-central-1").unwrap().0;
        let iad = lookup("us-east-1").unwrap().0;
        // 6,550 km along the surface; the chord is 2R·sin(θ/2).
        let d = distance_km(fra, iad);
        assert!((6_200.0..6_350.0).contains(&d), "{d}");
        let sin = lookup("ap-southeast-1").unwrap().0;
        let syd = lookup("australiaeast").unwrap().0;
        assert!(distance_km(fra, iad) < distance_km(fra, sin));
        assert!(distance_km(sin, syd) < distance_km(sin, fra));
        assert_eq!(distance_km(fra, fra), 0.0);
        assert_eq!(lookup("GermanyWestCentral").unwrap().1, "DE");
        assert!(lookup("mars-north-1").is_none());
    }

    #[test]
    fn the_series_matches_the_library_on_the_range_it_is_used() {
        let mut x = -std::f64::consts::PI;
        while x <= std::f64::consts::PI {
            let (s, c) = sin_cos(x);
            assert!(
                (s - x.sin()).abs() < 1e-6 && (c - x.cos()).abs() < 1e-6,
                "{x}"
            );
            x += 0.01;
        }
    }

    #[test]
    fn residency_rules() {
        assert!(allowed("eu", Some("europe-west4")));
        assert!(allowed("eu", Some("swedencentral")));
        assert!(!allowed("eu", Some("eu-west-2")), "London is not in the EU");
        assert!(!allowed("eu", Some("switzerlandnorth")));
        assert!(allowed("eu,CH", Some("switzerlandnorth")));
        assert!(allowed("us", Some("us-east-1")));
        assert!(!allowed("us", Some("ca-central-1")));
        assert!(allowed("eu-central-1, local", Some("local")));
        assert!(
            !allowed("eu", None),
            "unknown regions are outside every policy"
        );
        assert!(!allowed("eu", Some("nowhere")));
    }

    #[test]
    fn places_parse_strictly() {
        assert_eq!(
            parse_place("50.11, 8.68"),
            Some(Place {
                lat: 50.11,
                lon: 8.68
            })
        );
        assert_eq!(parse_place("91,0"), None);
        assert_eq!(parse_place("x,1"), None);
        assert_eq!(parse_place("1"), None);
    }
}
