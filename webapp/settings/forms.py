from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField
from wtforms import BooleanField, IntegerField, SelectField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError

from ..orders.intake import check_tax_id


class MerchantForm(FlaskForm):
    company_name = StringField("Nazwa firmy (sprzedawca)", validators=[DataRequired("Podaj nazwę firmy."), Length(max=300)])
    tax_id = StringField("NIP", validators=[DataRequired("Podaj NIP."), Length(max=20)])
    street = StringField("Ulica i numer", validators=[DataRequired("Podaj adres."), Length(max=200)])
    post_code = StringField("Kod pocztowy", validators=[DataRequired("Podaj kod pocztowy."), Length(max=20)])
    city = StringField("Miejscowość", validators=[DataRequired("Podaj miejscowość."), Length(max=100)])
    country = StringField("Kraj (kod ISO)", default="PL", validators=[DataRequired(), Length(min=2, max=2)])
    bank_account = StringField("Rachunek bankowy", validators=[Optional(), Length(max=64)])
    email = StringField("E-mail", validators=[Optional(), Length(max=200)])
    phone = StringField("Telefon", validators=[Optional(), Length(max=50)])
    place_of_issue = StringField("Miejsce wystawienia", validators=[Optional(), Length(max=100)])
    logo = FileField("Logo (PNG, do 500 kB)", validators=[FileAllowed(["png"], "Logo musi być plikiem PNG.")])

    def validate_tax_id(self, field):
        problem = check_tax_id(field.data or "", (self.country.data or "PL").upper())
        if problem:
            raise ValidationError(problem)


class SeriesForm(FlaskForm):
    name = StringField("Nazwa", validators=[DataRequired("Podaj nazwę serii."), Length(max=100)])
    kind = SelectField("Rodzaj", choices=[("invoice", "Faktura"), ("receipt", "Paragon"), ("correction", "Korekta")])
    format = StringField("Format numeru", default="FV/{nr}/{MM}/{YYYY}",
                         validators=[DataRequired("Podaj format."), Length(max=100)])
    reset = SelectField("Numeracja od nowa", choices=[("monthly", "co miesiąc"), ("yearly", "co rok"), ("never", "nigdy")])
    payment_days = IntegerField("Termin płatności (dni)", default=7,
                                validators=[NumberRange(0, 365, "Od 0 do 365 dni.")])
    hide_payment_date = BooleanField("Nie wyświetlaj terminu płatności")
    is_default = BooleanField("Domyślna seria dla tego rodzaju")


class StatusForm(FlaskForm):
    name = StringField("Nazwa statusu", validators=[DataRequired("Podaj nazwę."), Length(max=60)])


class TokenForm(FlaskForm):
    name = StringField("Nazwa tokenu (np. sklep)", validators=[DataRequired("Podaj nazwę."), Length(max=100)])
