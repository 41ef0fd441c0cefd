"""Reports: report.json, report.html and its plots, evidence statements."""
