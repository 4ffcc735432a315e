package geo

import (
	"slices"
	"sync"
)

// Region returns the coordinates of a cloud region by its name (GCP
// "asia-east1", AWS "ap-northeast-1", Azure "westeurope"), matched exactly
// and in lower case.
func Region(name string) (Point, bool) {
	p, ok := regionIndex()[name]
	return p, ok
}

// Regions returns every name in the built-in table, sorted.
func Regions() []string {
	return slices.Sorted(func(yield func(string) bool) {
		for _, r := range regionTable {
			if !yield(r.name) {
				return
			}
		}
	})
}

// regionIndex maps region names to coordinates; it is built once from
// regionTable.
var regionIndex = sync.OnceValue(func() map[string]Point {
	m := make(map[string]Point, len(regionTable))
	for _, r := range regionTable {
		m[r.name] = Point{Lat: r.lat, Lon: r.lon}
	}
	return m
})

// regionTable lists cloud regions with the coordinates of the city or area
// each is in. Coordinates are approximate, public region locations: the
// city or metro area each provider names for the region, rounded to about
// 0.01 degree. They place a cluster on the map; they do not locate a data
// centre. Names do not collide across providers: GCP writes "us-east1",
// AWS "us-east-1", Azure "eastus".
var regionTable = []struct {
	name     string
	lat, lon float64
}{
	// Google Cloud.
	{"africa-south1", -26.20, 28.05},           // Johannesburg, South Africa
	{"asia-east1", 24.05, 120.52},              // Changhua County, Taiwan
	{"asia-east2", 22.32, 114.17},              // Hong Kong
	{"asia-northeast1", 35.68, 139.69},         // Tokyo, Japan
	{"asia-northeast2", 34.69, 135.50},         // Osaka, Japan
	{"asia-northeast3", 37.57, 126.98},         // Seoul, South Korea
	{"asia-south1", 19.08, 72.88},              // Mumbai, India
	{"asia-south2", 28.61, 77.21},              // Delhi, India
	{"asia-southeast1", 1.34, 103.71},          // Jurong West, Singapore
	{"asia-southeast2", -6.21, 106.85},         // Jakarta, Indonesia
	{"australia-southeast1", -33.87, 151.21},   // Sydney, Australia
	{"australia-southeast2", -37.81, 144.96},   // Melbourne, Australia
	{"europe-central2", 52.23, 21.01},          // Warsaw, Poland
	{"europe-north1", 60.57, 27.19},            // Hamina, Finland
	{"europe-north2", 59.33, 18.07},            // Stockholm, Sweden
	{"europe-southwest1", 40.42, -3.70},        // Madrid, Spain
	{"europe-west1", 50.45, 3.82},              // St. Ghislain, Belgium
	{"europe-west2", 51.51, -0.13},             // London, United Kingdom
	{"europe-west3", 50.11, 8.68},              // Frankfurt, Germany
	{"europe-west4", 53.44, 6.83},              // Eemshaven, Netherlands
	{"europe-west6", 47.38, 8.54},              // Zurich, Switzerland
	{"europe-west8", 45.46, 9.19},              // Milan, Italy
	{"europe-west9", 48.86, 2.35},              // Paris, France
	{"europe-west10", 52.52, 13.40},            // Berlin, Germany
	{"europe-west12", 45.07, 7.69},             // Turin, Italy
	{"me-central1", 25.29, 51.53},              // Doha, Qatar
	{"me-central2", 26.43, 50.10},              // Dammam, Saudi Arabia
	{"me-west1", 32.09, 34.78},                 // Tel Aviv, Israel
	{"northamerica-northeast1", 45.50, -73.57}, // Montréal, Canada
	{"northamerica-northeast2", 43.65, -79.38}, // Toronto, Canada
	{"northamerica-south1", 20.59, -100.39},    // Querétaro, Mexico
	{"southamerica-east1", -23.53, -46.79},     // Osasco (São Paulo), Brazil
	{"southamerica-west1", -33.45, -70.67},     // Santiago, Chile
	{"us-central1", 41.26, -95.86},             // Council Bluffs, Iowa
	{"us-east1", 33.20, -80.01},                // Moncks Corner, South Carolina
	{"us-east4", 39.04, -77.49},                // Ashburn, Virginia
	{"us-east5", 39.96, -83.00},                // Columbus, Ohio
	{"us-south1", 32.78, -96.80},               // Dallas, Texas
	{"us-west1", 45.60, -121.18},               // The Dalles, Oregon
	{"us-west2", 34.05, -118.24},               // Los Angeles, California
	{"us-west3", 40.76, -111.89},               // Salt Lake City, Utah
	{"us-west4", 36.17, -115.14},               // Las Vegas, Nevada
	// Amazon Web Services.
	{"af-south-1", -33.92, 18.42},      // Cape Town, South Africa
	{"ap-east-1", 22.32, 114.17},       // Hong Kong
	{"ap-east-2", 25.03, 121.57},       // Taipei, Taiwan
	{"ap-northeast-1", 35.68, 139.69},  // Tokyo, Japan
	{"ap-northeast-2", 37.57, 126.98},  // Seoul, South Korea
	{"ap-northeast-3", 34.69, 135.50},  // Osaka, Japan
	{"ap-south-1", 19.08, 72.88},       // Mumbai, India
	{"ap-south-2", 17.39, 78.49},       // Hyderabad, India
	{"ap-southeast-1", 1.35, 103.82},   // Singapore
	{"ap-southeast-2", -33.87, 151.21}, // Sydney, Australia
	{"ap-southeast-3", -6.21, 106.85},  // Jakarta, Indonesia
	{"ap-southeast-4", -37.81, 144.96}, // Melbourne, Australia
	{"ap-southeast-5", 3.14, 101.69},   // Kuala Lumpur, Malaysia
	{"ap-southeast-6", -36.85, 174.76}, // Auckland, New Zealand
	{"ap-southeast-7", 13.76, 100.50},  // Bangkok, Thailand
	{"ca-central-1", 45.50, -73.57},    // Montréal, Canada
	{"ca-west-1", 51.05, -114.07},      // Calgary, Canada
	{"eu-central-1", 50.11, 8.68},      // Frankfurt, Germany
	{"eu-central-2", 47.38, 8.54},      // Zurich, Switzerland
	{"eu-north-1", 59.33, 18.07},       // Stockholm, Sweden
	{"eu-south-1", 45.46, 9.19},        // Milan, Italy
	{"eu-south-2", 41.65, -0.88},       // Aragón (Zaragoza), Spain
	{"eu-west-1", 53.35, -6.26},        // Dublin, Ireland
	{"eu-west-2", 51.51, -0.13},        // London, United Kingdom
	{"eu-west-3", 48.86, 2.35},         // Paris, France
	{"il-central-1", 32.09, 34.78},     // Tel Aviv, Israel
	{"me-central-1", 25.20, 55.27},     // United Arab Emirates (Dubai)
	{"me-south-1", 26.23, 50.59},       // Manama, Bahrain
	{"mx-central-1", 20.59, -100.39},   // Querétaro, Mexico
	{"sa-east-1", -23.55, -46.63},      // São Paulo, Brazil
	{"us-east-1", 39.04, -77.49},       // Northern Virginia (Ashburn)
	{"us-east-2", 39.96, -83.00},       // Ohio (Columbus)
	{"us-gov-east-1", 39.96, -83.00},   // GovCloud US-East, Ohio
	{"us-gov-west-1", 45.84, -119.70},  // GovCloud US-West, Oregon
	{"us-west-1", 37.35, -121.96},      // Northern California (Santa Clara)
	{"us-west-2", 45.84, -119.70},      // Oregon (Boardman)
	// Microsoft Azure.
	{"australiacentral", -35.31, 149.12},   // Canberra, Australia
	{"australiacentral2", -35.31, 149.12},  // Canberra, Australia
	{"australiaeast", -33.86, 151.21},      // New South Wales, Australia
	{"australiasoutheast", -37.81, 144.96}, // Victoria, Australia
	{"brazilsouth", -23.55, -46.63},        // São Paulo State, Brazil
	{"brazilsoutheast", -22.90, -43.21},    // Rio de Janeiro, Brazil
	{"canadacentral", 43.65, -79.38},       // Toronto, Canada
	{"canadaeast", 46.82, -71.22},          // Quebec City, Canada
	{"centralindia", 18.58, 73.92},         // Pune, India
	{"centralus", 41.59, -93.62},           // Des Moines, Iowa
	{"chilecentral", -33.45, -70.67},       // Santiago, Chile
	{"eastasia", 22.27, 114.19},            // Hong Kong
	{"eastus", 37.37, -79.82},              // Virginia
	{"eastus2", 36.67, -78.39},             // Boydton, Virginia
	{"francecentral", 48.86, 2.35},         // Paris, France
	{"francesouth", 43.30, 5.37},           // Marseille, France
	{"germanynorth", 52.52, 13.40},         // Berlin, Germany
	{"germanywestcentral", 50.11, 8.68},    // Frankfurt, Germany
	{"indonesiacentral", -6.21, 106.85},    // Jakarta, Indonesia
	{"israelcentral", 32.09, 34.78},        // Israel
	{"italynorth", 45.47, 9.18},            // Milan, Italy
	{"japaneast", 35.68, 139.77},           // Tokyo, Japan
	{"japanwest", 34.69, 135.50},           // Osaka, Japan
	{"jioindiacentral", 21.15, 79.09},      // Nagpur, India
	{"jioindiawest", 22.47, 70.06},         // Jamnagar, India
	{"koreacentral", 37.57, 126.98},        // Seoul, South Korea
	{"koreasouth", 35.18, 129.08},          // Busan, South Korea
	{"malaysiawest", 3.14, 101.69},         // Kuala Lumpur, Malaysia
	{"mexicocentral", 20.59, -100.39},      // Querétaro, Mexico
	{"newzealandnorth", -36.85, 174.76},    // Auckland, New Zealand
	{"northcentralus", 41.88, -87.63},      // Chicago, Illinois
	{"northeurope", 53.35, -6.26},          // Dublin, Ireland
	{"norwayeast", 59.91, 10.75},           // Oslo, Norway
	{"norwaywest", 58.97, 5.73},            // Stavanger, Norway
	{"polandcentral", 52.23, 21.02},        // Warsaw, Poland
	{"qatarcentral", 25.55, 51.44},         // Doha, Qatar
	{"southafricanorth", -25.73, 28.22},    // Johannesburg, South Africa
	{"southafricawest", -33.92, 18.42},     // Cape Town, South Africa
	{"southcentralus", 29.42, -98.50},      // San Antonio, Texas
	{"southeastasia", 1.28, 103.83},        // Singapore
	{"southindia", 12.98, 80.16},           // Chennai, India
	{"spaincentral", 40.43, -3.42},         // Madrid, Spain
	{"swedencentral", 60.67, 17.14},        // Gävle, Sweden
	{"switzerlandnorth", 47.45, 8.56},      // Zurich, Switzerland
	{"switzerlandwest", 46.20, 6.14},       // Geneva, Switzerland
	{"uaecentral", 24.47, 54.37},           // Abu Dhabi, United Arab Emirates
	{"uaenorth", 25.27, 55.32},             // Dubai, United Arab Emirates
	{"uksouth", 51.51, -0.13},              // London, United Kingdom
	{"ukwest", 51.48, -3.18},               // Cardiff, United Kingdom
	{"westcentralus", 41.14, -104.82},      // Cheyenne, Wyoming
	{"westeurope", 52.37, 4.90},            // Amsterdam, Netherlands
	{"westindia", 19.09, 72.87},            // Mumbai, India
	{"westus", 37.78, -122.42},             // San Francisco, California
	{"westus2", 47.23, -119.85},            // Quincy, Washington
	{"westus3", 33.45, -112.07},            // Phoenix, Arizona
}
