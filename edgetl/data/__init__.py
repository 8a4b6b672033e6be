"""Class-folder datasets: scanning, decoding to RGB, seeded splits and the decoded-image cache."""
