package ingest

// The synthetic catalog's categories: brands with their product lines,
// attributes with the values a supplier would send, a title template, a
// price distribution, and description phrases. Values listed in price
// order carry a step: each one up costs that fraction more.

type brandSpec struct {
	name   string
	series []string
	// premium scales the category's prices (0 means 1).
	premium float64
	// only narrows an attribute's values for this brand (Apple laptops
	// have Apple chips).
	only map[string][]string
}

type attrSpec struct {
	name    string
	values  []string
	weights []int // optional, one per value
	step    float64
	// hidden attributes shape the title but are not sent as attributes.
	hidden bool
	// gen makes a value instead of picking one.
	gen func(*catalogRand) string
}

type categorySpec struct {
	path   string
	weight int
	brands []brandSpec
	// model is the model-number pattern: A a letter, 9 a digit.
	model  string
	median int64 // median price in US cents before the attribute steps
	sigma  float64
	attrs  []attrSpec
	// title, about and features use {brand}, {series}, {model} and
	// {attribute} placeholders. A description is about, three features
	// and a closer.
	title    string
	about    string
	features []string
}

var colours = []string{"Black", "White", "Navy", "Grey", "Blue", "Red", "Green", "Beige", "Olive", "Burgundy"}

var categories = []categorySpec{
	{
		path: "electronics/tv", weight: 8, model: "A99A", median: 14900, sigma: 0.35,
		brands: []brandSpec{
			{name: "Sony", premium: 1.4, series: []string{"Bravia", "Bravia XR"}, only: map[string][]string{"smart_platform": {"Google TV"}}},
			{name: "Samsung", premium: 1.3, series: []string{"Crystal UHD", "QLED", "Neo QLED", "The Frame"}, only: map[string][]string{"smart_platform": {"Tizen"}}},
			{name: "LG", premium: 1.3, series: []string{"NanoCell", "OLED evo", "QNED"}, only: map[string][]string{"smart_platform": {"webOS"}}},
			{name: "TCL", premium: 0.7, series: []string{"4-Series", "6-Series", "QM8"}, only: map[string][]string{"smart_platform": {"Google TV", "Roku TV"}}},
			{name: "Hisense", premium: 0.7, series: []string{"A6", "U6", "U8"}, only: map[string][]string{"smart_platform": {"VIDAA", "Google TV"}}},
			{name: "Vizio", premium: 0.8, series: []string{"V-Series", "M-Series", "P-Series"}, only: map[string][]string{"smart_platform": {"SmartCast"}}},
			{name: "Panasonic", premium: 1.1, series: []string{"Viera"}, only: map[string][]string{"smart_platform": {"Fire TV"}}},
		},
		attrs: []attrSpec{
			{name: "screen_size", values: []string{"32", "43", "50", "55", "65", "75", "85"}, weights: []int{2, 3, 4, 5, 5, 3, 1}, step: 0.3},
			{name: "resolution", values: []string{"Full HD", "4K UHD", "8K"}, weights: []int{2, 12, 1}, step: 0.6},
			{name: "panel", values: []string{"LED", "QLED", "Mini-LED", "OLED"}, weights: []int{6, 4, 2, 2}, step: 0.25},
			{name: "refresh_rate", values: []string{"60Hz", "120Hz", "144Hz"}, weights: []int{6, 4, 1}, step: 0.1},
			{name: "smart_platform", values: []string{"Google TV", "Roku TV", "Tizen", "webOS", "VIDAA", "SmartCast", "Fire TV"}},
		},
		title: `{brand} {series} {model} {screen_size}" {resolution} {panel} Smart TV`,
		about: `The {brand} {series} {screen_size}-inch TV brings`,
		features: []string{"Dolby Vision and HDR10 for lifelike contrast", "a {refresh_rate} panel for smooth sports and gaming",
			"{smart_platform} with every major streaming app built in", "Dolby Atmos sound", "three HDMI 2.1 ports with eARC",
			"a near bezel-less design", "hands-free voice control", "an auto low-latency game mode"},
	},
	{
		path: "electronics/laptops", weight: 7, median: 55000, sigma: 0.3,
		brands: []brandSpec{
			{name: "Apple", premium: 1.5, series: []string{"MacBook Air", "MacBook Pro"}, only: map[string][]string{"cpu": {"Apple M3", "Apple M3 Pro", "Apple M4"}, "colour": {"Silver", "Space Gray", "Midnight", "Starlight"}}},
			{name: "Dell", premium: 1.1, series: []string{"XPS", "Inspiron", "Latitude"}},
			{name: "HP", series: []string{"Spectre x360", "Envy", "Pavilion"}},
			{name: "Lenovo", series: []string{"ThinkPad X1 Carbon", "IdeaPad Slim 5", "Yoga 7"}},
			{name: "ASUS", series: []string{"Zenbook 14", "ROG Zephyrus G14", "Vivobook 16"}},
			{name: "Acer", premium: 0.8, series: []string{"Swift Go", "Aspire 5", "Predator Helios"}},
			{name: "Microsoft", premium: 1.3, series: []string{"Surface Laptop"}},
		},
		attrs: []attrSpec{
			{name: "screen_size", values: []string{"13.3", "14", "15.6", "16"}, step: 0.05},
			{name: "cpu", values: []string{"Intel Core i5", "AMD Ryzen 5", "Intel Core i7", "AMD Ryzen 7", "Intel Core Ultra 9"}, step: 0.12},
			{name: "ram_gb", values: []string{"8", "16", "32", "64"}, weights: []int{3, 5, 2, 1}, step: 0.18},
			{name: "storage_gb", values: []string{"256", "512", "1024", "2048"}, weights: []int{3, 5, 3, 1}, step: 0.12},
			{name: "colour", values: []string{"Silver", "Black", "Platinum", "Graphite"}},
		},
		title: `{brand} {series} {screen_size}" Laptop, {cpu}, {ram_gb}GB RAM, {storage_gb}GB SSD, {colour}`,
		about: `The {brand} {series} laptop has`,
		features: []string{"all-day battery life", "a backlit keyboard", "Wi-Fi 6E", "a 1080p webcam with privacy shutter",
			"Thunderbolt 4 ports", "a {screen_size}-inch anti-glare display", "{ram_gb}GB of fast memory for multitasking", "a fingerprint reader"},
	},
	{
		path: "electronics/phones", weight: 8, median: 34900, sigma: 0.3,
		brands: []brandSpec{
			{name: "Apple", premium: 1.6, series: []string{"iPhone 15", "iPhone 15 Pro", "iPhone 16", "iPhone 16 Pro Max"}, only: map[string][]string{"os": {"iOS"}, "network": {"5G"}}},
			{name: "Samsung", premium: 1.2, series: []string{"Galaxy S24", "Galaxy A55", "Galaxy Z Flip6"}},
			{name: "Google", premium: 1.2, series: []string{"Pixel 8", "Pixel 9 Pro"}},
			{name: "OnePlus", series: []string{"12", "Nord 4"}},
			{name: "Xiaomi", premium: 0.6, series: []string{"Redmi Note 13", "14T"}},
			{name: "Motorola", premium: 0.5, series: []string{"moto g", "edge"}},
		},
		attrs: []attrSpec{
			{name: "storage_gb", values: []string{"64", "128", "256", "512", "1024"}, weights: []int{1, 5, 5, 2, 1}, step: 0.15},
			{name: "colour", values: []string{"Black", "White", "Blue", "Green", "Titanium", "Pink"}},
			{name: "screen_size", values: []string{"6.1", "6.4", "6.7", "6.8"}, step: 0.08},
			{name: "network", values: []string{"4G LTE", "5G"}, weights: []int{1, 4}, step: 0.2},
			{name: "os", values: []string{"Android"}},
		},
		title: `{brand} {series} ({storage_gb}GB, {colour}, {network}) Unlocked`,
		about: `The {brand} {series} has`,
		features: []string{"a {screen_size}-inch OLED display", "a triple-lens camera with night mode", "fast wireless charging",
			"IP68 water and dust resistance", "{storage_gb}GB of storage", "a battery that lasts all day", "face unlock"},
	},
	{
		path: "apparel/shirts", weight: 12, median: 2400, sigma: 0.4,
		brands: []brandSpec{{name: "Levi's", premium: 1.3}, {name: "Uniqlo", premium: 0.8}, {name: "H&M", premium: 0.6}, {name: "Ralph Lauren", premium: 2.5}, {name: "Tommy Hilfiger", premium: 1.8},
			{name: "Gap"}, {name: "Van Heusen"}, {name: "Allen Solly"}},
		attrs: []attrSpec{
			{name: "gender", values: []string{"Men's", "Women's"}},
			{name: "fit", values: []string{"Slim Fit", "Regular Fit", "Relaxed Fit"}},
			{name: "style", values: []string{"Button-Down", "Oxford", "Polo", "Flannel", "Henley"}},
			{name: "material", values: []string{"Cotton Blend", "100% Cotton", "Linen", "Organic Cotton"}, step: 0.15},
			{name: "colour", values: colours},
			{name: "size", values: []string{"XS", "S", "M", "L", "XL", "XXL"}, weights: []int{1, 3, 5, 5, 3, 1}},
		},
		title:    `{brand} {gender} {fit} {style} Shirt, {material}, {colour}, Size {size}`,
		about:    `This {fit} {style} shirt from {brand} has`,
		features: []string{"a {fit} cut", "breathable {material}", "a soft, pre-washed finish", "reinforced seams", "a classic collar", "machine-washable fabric"},
	},
	{
		path: "apparel/shoes", weight: 9, median: 6500, sigma: 0.35,
		brands: []brandSpec{
			{name: "Nike", series: []string{"Air Max 90", "Pegasus 41", "Air Force 1"}},
			{name: "Adidas", series: []string{"Ultraboost", "Samba OG", "Gazelle"}},
			{name: "New Balance", series: []string{"574", "Fresh Foam 1080"}},
			{name: "Puma", series: []string{"Suede Classic", "Velocity Nitro 3"}},
			{name: "ASICS", series: []string{"Gel-Kayano 31", "Gel-Nimbus 26"}},
			{name: "Skechers", series: []string{"GO WALK", "D'Lites"}},
			{name: "Converse", series: []string{"Chuck Taylor All Star"}},
		},
		attrs: []attrSpec{
			{name: "gender", values: []string{"Men's", "Women's", "Unisex"}},
			{name: "type", values: []string{"Sneakers", "Walking Shoes", "Running Shoes", "Trail Running Shoes"}, step: 0.1},
			{name: "colour", values: colours},
			{name: "size", values: []string{"6", "7", "8", "9", "10", "11", "12", "13"}, weights: []int{1, 2, 4, 5, 5, 4, 2, 1}},
		},
		title:    `{brand} {series} {gender} {type}, {colour}, US Size {size}`,
		about:    `The {brand} {series} {type} have`,
		features: []string{"responsive cushioning", "a breathable mesh upper", "a durable rubber outsole", "a padded collar", "a removable insole", "a lightweight build"},
	},
	{
		path: "home/kitchen", weight: 10, model: "AA999", median: 3900, sigma: 0.45,
		brands: []brandSpec{{name: "KitchenAid", premium: 1.6}, {name: "Ninja"}, {name: "Instant Pot"}, {name: "Breville", premium: 1.6}, {name: "Cuisinart"},
			{name: "Philips"}, {name: "OXO", premium: 0.7}, {name: "Le Creuset", premium: 2.2}},
		attrs: []attrSpec{
			{name: "type", values: []string{"Electric Kettle", "Toaster", "Blender", "Food Processor", "Air Fryer", "Pressure Cooker", "Dutch Oven", "Stand Mixer", "Espresso Machine"}, step: 0.3},
			{name: "colour", values: []string{"Stainless Steel", "Black", "Red", "White", "Cream"}},
			{name: "capacity", values: []string{"1 L", "1.5 L", "2 L", "4 L", "5.5 L"}, step: 0.05},
		},
		title:    `{brand} {model} {type}, {capacity}, {colour}`,
		about:    `This {brand} {type} has`,
		features: []string{"dishwasher-safe parts", "a {capacity} capacity", "one-touch presets", "a brushed {colour} finish", "an easy-clean design", "a two-year warranty"},
	},
	{
		path: "books", weight: 14, median: 1500, sigma: 0.35,
		brands: []brandSpec{{name: "Penguin"}, {name: "HarperCollins"}, {name: "Vintage"}, {name: "O'Reilly Media"}, {name: "Scholastic"}, {name: "Simon & Schuster"}},
		attrs: []attrSpec{
			{name: "book_title", hidden: true, gen: bookTitle},
			{name: "author", gen: personName},
			{name: "format", values: []string{"Kindle Edition", "Paperback", "Hardcover"}, weights: []int{2, 5, 3}, step: 0.35},
			{name: "genre", values: []string{"Mystery", "Science Fiction", "Fantasy", "Biography", "History", "Self-Help", "Cooking", "Programming"}},
			{name: "language", values: []string{"English", "Spanish", "French", "German", "Hindi"}, weights: []int{12, 2, 1, 1, 1}},
			{name: "pages", gen: func(r *catalogRand) string { return itoa(int64(120 + 8*r.IntN(100))) }},
		},
		title:    `{book_title} ({format}) by {author}`,
		about:    `{book_title} by {author}, from {brand}, comes with`,
		features: []string{"{pages} pages of {genre}", "a new foreword by the author", "a reading-group guide", "an author interview", "notes on the text"},
	},
	{
		path: "toys", weight: 8, median: 2500, sigma: 0.5,
		brands: []brandSpec{
			{name: "LEGO", series: []string{"City", "Technic", "Star Wars", "Friends"}},
			{name: "Hasbro", series: []string{"Monopoly", "Nerf", "Play-Doh"}},
			{name: "Mattel", series: []string{"Barbie", "Hot Wheels", "UNO"}},
			{name: "Melissa & Doug"}, {name: "Fisher-Price"}, {name: "Ravensburger"},
		},
		attrs: []attrSpec{
			{name: "type", values: []string{"Card Game", "Plush Toy", "Puzzle", "Board Game", "Action Figure", "Building Set", "Remote Control Car"}, step: 0.15},
			{name: "pieces", values: []string{"24", "100", "250", "500", "1000", "1500"}, step: 0.1},
			{name: "age_range", values: []string{"1-3", "3-5", "6-8", "8-12", "12+"}},
		},
		title:    `{brand} {series} {type}, {pieces} Pieces, Ages {age_range}`,
		about:    `This {brand} {series} {type} offers`,
		features: []string{"hours of screen-free play", "non-toxic materials", "{pieces} pieces", "a sturdy storage box", "a great gift for ages {age_range}"},
	},
	{
		path: "sports", weight: 8, model: "A-999", median: 3200, sigma: 0.55,
		brands: []brandSpec{{name: "Wilson"}, {name: "Spalding"}, {name: "Yonex"}, {name: "Under Armour"}, {name: "Bowflex"}, {name: "Gaiam"}, {name: "Coleman"}},
		attrs: []attrSpec{
			{name: "type", values: []string{"Resistance Bands", "Yoga Mat", "Soccer Ball", "Basketball", "Badminton Racket", "Tennis Racket", "Dumbbell Set", "Camping Tent"}, step: 0.22},
			{name: "colour", values: colours},
			{name: "material", values: []string{"Rubber", "Synthetic Leather", "Carbon Fiber", "Steel", "Nylon"}},
		},
		title:    `{brand} {model} {type}, {colour}`,
		about:    `This {brand} {type} has`,
		features: []string{"durable {material} construction", "a non-slip grip", "tournament-grade quality", "a carry bag", "all-weather performance"},
	},
	{
		path: "beauty", weight: 8, median: 1400, sigma: 0.45,
		brands: []brandSpec{
			{name: "L'Oréal Paris", series: []string{"Revitalift", "Elvive"}}, {name: "Neutrogena", series: []string{"Hydro Boost"}},
			{name: "CeraVe"}, {name: "The Ordinary", premium: 0.7}, {name: "Maybelline", series: []string{"Lash Sensational"}},
			{name: "Nivea", premium: 0.6}, {name: "Olay", series: []string{"Regenerist"}}, {name: "Clinique", premium: 2.0},
		},
		attrs: []attrSpec{
			{name: "type", values: []string{"Cleanser", "Shampoo", "Mascara", "Lipstick", "Sunscreen SPF 50", "Moisturizer", "Eye Cream", "Serum"}, step: 0.12},
			{name: "skin_type", values: []string{"All Skin Types", "Dry Skin", "Oily Skin", "Sensitive Skin", "Combination Skin"}},
			{name: "volume_ml", values: []string{"15", "30", "50", "100", "200", "400"}, step: 0.12},
		},
		title:    `{brand} {series} {type} for {skin_type}, {volume_ml} ml`,
		about:    `This {brand} {series} {type} is`,
		features: []string{"fragrance-free", "dermatologist tested", "made with hyaluronic acid", "lightweight and non-greasy", "cruelty-free", "sized at {volume_ml} ml"},
	},
}

// closers end every description.
var closers = []string{
	"Ships in recyclable packaging.", "Backed by a one-year manufacturer warranty.", "Free returns within 30 days.",
	"Genuine product, sold by an authorised seller.", "Ready to ship the next business day.",
}

var (
	bookAdjectives = []string{"Silent", "Hidden", "Last", "Broken", "Golden", "Midnight", "Forgotten", "Crimson", "Endless", "Quiet", "Wild", "Distant"}
	bookNouns      = []string{"River", "Garden", "Kingdom", "Orchard", "Lighthouse", "Archive", "Frontier", "Compass", "Harbor", "Algorithm", "Winter", "Empire"}
	firstNames     = []string{"Maya", "Arjun", "Elena", "James", "Priya", "Lucas", "Aiko", "Omar", "Sofia", "Daniel", "Chloe", "Ravi", "Hannah", "Mateo"}
	lastNames      = []string{"Patel", "Okafor", "Lindqvist", "Moreau", "Nakamura", "García", "Thompson", "Kowalski", "Singh", "Haddad", "O'Brien", "Rossi"}
)

func bookTitle(r *catalogRand) string {
	t := "The " + r.pick(bookAdjectives) + " " + r.pick(bookNouns)
	if r.IntN(3) == 0 {
		t += ": A Novel"
	}
	return t
}

func personName(r *catalogRand) string { return r.pick(firstNames) + " " + r.pick(lastNames) }
