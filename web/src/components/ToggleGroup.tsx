interface ToggleGroupProps<T extends string> {
  /** The group's accessible name. */
  label: string;
  options: readonly (readonly [T, string])[];
  value: T;
  onChange: (value: T) => void;
}

/** A choice of two or three, as pressed-or-not buttons next to the result summary (the order, the shape). */
export function ToggleGroup<T extends string>({ label, options, value, onChange }: ToggleGroupProps<T>) {
  return (
    <div className="sort-toggle" role="group" aria-label={label}>
      {options.map(([option, name]) => (
        <button
          key={option}
          type="button"
          className="sort-option"
          aria-pressed={value === option}
          onClick={() => onChange(option)}
        >
          {name}
        </button>
      ))}
    </div>
  );
}
