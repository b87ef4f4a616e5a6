"""From benchmark to bill: a service's billed cost per unit of work it served, beside the floor a
benchmark shows. Readers stream; pandas is imported inside functions only."""
