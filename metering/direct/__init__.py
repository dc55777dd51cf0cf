"""Direct emissions of industrial processes (cement clinker first): sector methods, activity data, boundaries."""
